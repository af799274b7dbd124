import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, constants, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { checkArtifactMeta, sha256HexToBase64 } from '../artifact-meta.js';
import type {
  ArtifactInfo,
  ArtifactRef,
  ArtifactStream,
  ByteRange,
  CompletedPart,
  MultipartUpload,
  PartIntent,
  PresignedRequest,
  PutResult,
  StorageCapabilities,
  StorageDriver,
  UploadIntent,
} from '../driver.js';
import { ArtifactNotFoundError } from '../errors.js';
import { describeRef } from '../object-keys.js';
import { DiskSpace } from './local-disk-space.js';
import { LocalFiles, ioError, metaFile } from './local-files.js';
import { LocalMultipart } from './local-multipart.js';
import { LocalSignedUrls } from './local-signed-urls.js';
import { LocalUrlSigner } from './local-url-signer.js';
import { writeVerified } from './verifying-writer.js';

export interface LocalDriverOptions {
  readonly root: string;
  /** Base URL clients reach the gateway at (signed URLs point back to it). */
  readonly baseUrl: () => string;
  readonly signingSecret?: string | undefined;
  /** Below this many free bytes the driver reports not ready (default 16 MiB). */
  readonly minFreeBytes?: number | undefined;
  readonly now?: () => number;
}

export const DEFAULT_MIN_FREE_BYTES = 16 * 1024 * 1024;

/**
 * The embedded default: artifacts on local disk, served by the gateway itself through signed,
 * expiring, method-bound URLs (`/v1/local/...`), streamed in constant memory with Range support.
 * It refuses a second writer exactly as a conditional S3 PUT does.
 */
export class LocalDriver implements StorageDriver {
  readonly name = 'local' as const;
  readonly capabilities: StorageCapabilities = { presign: true, conditionalWrites: true, digest: 'sha256', multipart: true };
  /** Signs and checks the URLs the gateway's local routes serve. */
  readonly urls: LocalSignedUrls;
  private readonly files: LocalFiles;
  private readonly multipart: LocalMultipart;
  private readonly now: () => number;

  constructor(opts: LocalDriverOptions) {
    this.now = opts.now ?? Date.now;
    const secret = opts.signingSecret ? Buffer.from(opts.signingSecret) : randomBytes(32);
    this.urls = new LocalSignedUrls(new LocalUrlSigner(secret, opts.baseUrl, this.now));
    const disk = new DiskSpace(opts.root, opts.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES, this.now);
    this.files = new LocalFiles(opts.root, disk);
    this.multipart = new LocalMultipart(this.files, this.urls, this.now);
  }

  async init(): Promise<void> {
    try {
      await this.files.init();
    } catch (err) {
      throw ioError(`local root ${this.files.root}`, err);
    }
  }

  async head(ref: ArtifactRef): Promise<ArtifactInfo | null> {
    let text: string;
    try {
      text = await readFile(join(this.files.artifactDir(ref), 'meta.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw ioError(`head ${describeRef(ref)}`, err);
    }
    return JSON.parse(text) as ArtifactInfo;
  }

  /** The bytes are always at the artifact's own folder: nothing to resolve, no location to trust. */
  presignDownload(ref: ArtifactRef, ttlSeconds: number): Promise<PresignedRequest> {
    const { url, expiresAt } = this.urls.download(ref, ttlSeconds);
    return Promise.resolve({ url, method: 'GET', headers: {}, expiresAt });
  }

  presignUpload(intent: UploadIntent, ttlSeconds: number): Promise<PresignedRequest> {
    const { url, expiresAt } = this.urls.upload(intent, checkArtifactMeta(intent.meta), ttlSeconds);
    const headers = {
      'Content-Length': String(intent.size),
      'If-None-Match': '*',
      'x-amz-checksum-sha256': sha256HexToBase64(intent.sha256),
    };
    return Promise.resolve({ url, method: 'PUT', headers, expiresAt });
  }

  async put(intent: UploadIntent, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    const meta = checkArtifactMeta(intent.meta);
    if (await this.head(intent.ref)) {
      body.resume();
      return 'exists';
    }
    const staging = await this.files.stagingDir();
    try {
      await writeVerified(body, join(staging, 'data'), intent, signal);
      const info: ArtifactInfo = { size: intent.size, sha256: intent.sha256, createdAt: new Date(this.now()).toISOString(), meta };
      await writeFile(join(staging, 'meta.json'), metaFile(info));
    } catch (err) {
      // Nothing partial is kept, whatever failed (a short body, a full disk, a client gone).
      await this.files.discard(staging);
      throw this.files.disk.toStorageError(`put ${describeRef(intent.ref)}`, err);
    }
    return (await this.files.publish(staging, intent.ref)) ? 'created' : 'exists';
  }

  createMultipartUpload(intent: UploadIntent, parts: readonly PartIntent[], ttlSeconds: number): Promise<MultipartUpload> {
    return this.multipart.create(intent, checkArtifactMeta(intent.meta), parts, ttlSeconds);
  }

  /** Receives one part through a signed part URL (served by the gateway's local routes). */
  putPart(ref: ArtifactRef, uploadId: string, partNumber: number, body: Readable, signal?: AbortSignal): Promise<string> {
    return this.multipart.putPart(ref, uploadId, partNumber, body, signal);
  }

  completeMultipartUpload(ref: ArtifactRef, uploadId: string, parts: readonly CompletedPart[], signal?: AbortSignal): Promise<PutResult> {
    return this.multipart.complete(ref, uploadId, parts, signal);
  }

  abortMultipartUpload(ref: ArtifactRef, uploadId: string): Promise<void> {
    return this.multipart.abort(ref, uploadId);
  }

  async get(ref: ArtifactRef, range?: ByteRange): Promise<ArtifactStream> {
    const info = await this.head(ref);
    if (!info) throw new ArtifactNotFoundError(describeRef(ref));
    const body = createReadStream(join(this.files.artifactDir(ref), 'data'), range ? { start: range.start, end: range.end } : {});
    return { info, body, ...(range ? { range } : {}) };
  }

  /** Ready when the root is writable and the disk has room (see DiskSpace). */
  async ping(): Promise<void> {
    try {
      await access(join(this.files.root, 'tmp'), constants.W_OK);
    } catch (err) {
      throw ioError(`local root ${this.files.root}`, err);
    }
    await this.files.disk.check();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
