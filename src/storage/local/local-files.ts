import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactInfo, ArtifactRef } from '../driver.js';
import { StorageUnavailableError } from '../errors.js';
import { artifactKey, uploadKey } from '../object-keys.js';
import type { DiskSpace } from './local-disk-space.js';

/**
 * On-disk layout of the local driver (paths are object keys, built in object-keys.ts):
 *   <root>/<space>/<namespace>/<hash>/{data,meta.json}     a published artifact (one directory)
 *   <root>/uploads/<space>/<namespace>/<hash>/<uploadId>/  a multipart upload in progress
 *   <root>/tmp/                                            staging for writes
 * An artifact directory is published with one rename(2) of a complete staging directory. rename
 * onto an existing non-empty directory fails (ENOTEMPTY/EEXIST), so the first writer wins and
 * nothing is ever overwritten or seen half-written.
 */
export class LocalFiles {
  constructor(
    readonly root: string,
    readonly disk: DiskSpace,
  ) {}

  artifactDir(ref: ArtifactRef): string {
    return join(this.root, artifactKey(ref));
  }

  uploadDir(ref: ArtifactRef, uploadId: string): string {
    return join(this.root, uploadKey(ref, uploadId));
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    await mkdir(join(this.root, 'artifacts'), { recursive: true });
  }

  /** A fresh name under tmp/, on the same file system as the artifacts (rename is atomic). */
  tmpPath(): string {
    return join(this.root, 'tmp', randomBytes(12).toString('hex'));
  }

  async stagingDir(): Promise<string> {
    const dir = this.tmpPath();
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw this.disk.toStorageError('staging', err);
    }
    return dir;
  }

  /**
   * Publishes a staging directory holding `data` and `meta.json`; false when another writer won.
   * The staging directory is gone afterwards, whatever happened.
   */
  async publish(staging: string, ref: ArtifactRef): Promise<boolean> {
    let published = false;
    try {
      published = await this.tryPublish(staging, ref);
    } finally {
      if (!published) await this.discard(staging);
    }
    return published;
  }

  /**
   * As `publish`, but a staging directory that lost is kept (the caller may try again once it
   * knows what won); one that failed otherwise is discarded.
   */
  async tryPublish(staging: string, ref: ArtifactRef): Promise<boolean> {
    const target = this.artifactDir(ref);
    try {
      await mkdir(join(target, '..'), { recursive: true });
      await rename(staging, target);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      await this.discard(staging);
      throw this.disk.toStorageError(`publish ${artifactKey(ref)}`, err);
    }
  }

  /**
   * Publishes a staging directory over whatever is there (`replace`, builds only): the old
   * directory is renamed aside, the new one renamed in, the old one removed. A reader that opened
   * the old `data` keeps reading it (an open file outlives its name); one that looks in the
   * instant between the two renames finds nothing, as if the binary were evicted.
   */
  async swap(staging: string, ref: ArtifactRef): Promise<void> {
    const target = this.artifactDir(ref);
    const aside = this.tmpPath();
    let moved = false;
    try {
      await mkdir(join(target, '..'), { recursive: true });
      moved = await rename(target, aside).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return false;
          throw err;
        },
      );
      await rename(staging, target);
    } catch (err) {
      // The old binary goes back rather than being lost with the failed replacement.
      if (moved) await rename(aside, target).catch(() => undefined);
      await this.discard(staging);
      throw this.disk.toStorageError(`replace ${artifactKey(ref)}`, err);
    }
    await this.discard(aside);
  }

  async isPublished(ref: ArtifactRef): Promise<boolean> {
    try {
      await access(join(this.artifactDir(ref), 'meta.json'));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw this.disk.toStorageError(`head ${artifactKey(ref)}`, err);
    }
  }

  async discard(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export function metaFile(info: ArtifactInfo): string {
  return JSON.stringify({ size: info.size, sha256: info.sha256, createdAt: info.createdAt, meta: info.meta ?? {} });
}

export function ioError(what: string, err: unknown): StorageUnavailableError {
  return new StorageUnavailableError(`${what}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
}
