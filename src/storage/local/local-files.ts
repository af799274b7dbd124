import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactInfo, ArtifactRef } from '../driver.js';
import { StorageUnavailableError } from '../errors.js';
import { artifactKey } from '../object-keys.js';

/**
 * On-disk layout of the local driver:
 *   <root>/artifacts/<namespace>/<hash>/{data,meta.json}   a published artifact (one directory)
 *   <root>/uploads/<namespace>/<hash>/<uploadId>/          a multipart upload in progress
 *   <root>/tmp/                                            staging for writes
 * An artifact directory is published with one rename(2) of a complete staging directory. rename
 * onto an existing non-empty directory fails (ENOTEMPTY/EEXIST), so the first writer wins and
 * nothing is ever overwritten or seen half-written.
 */
export class LocalFiles {
  constructor(readonly root: string) {}

  artifactDir(ref: ArtifactRef): string {
    return join(this.root, artifactKey(ref));
  }

  uploadDir(ref: ArtifactRef, uploadId: string): string {
    return join(this.root, 'uploads', ref.namespace, ref.hash, uploadId);
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    await mkdir(join(this.root, 'artifacts'), { recursive: true });
  }

  async stagingDir(): Promise<string> {
    const dir = join(this.root, 'tmp', randomBytes(12).toString('hex'));
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Publishes a staging directory holding `data` and `meta.json`; false when another writer won. */
  async publish(staging: string, ref: ArtifactRef): Promise<boolean> {
    const target = this.artifactDir(ref);
    await mkdir(join(target, '..'), { recursive: true });
    try {
      await rename(staging, target);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      await rm(staging, { recursive: true, force: true });
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw new StorageUnavailableError(`publish ${artifactKey(ref)}: ${code ?? String(err)}`, err);
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
