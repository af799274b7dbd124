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
import { artifactKey, describeRef } from '../object-keys.js';
import { LocalFiles, ioError, metaFile } from './local-files.js';
import { LocalMultipart } from './local-multipart.js';
import { LocalUrlSigner } from './local-url-signer.js';
import { writeVerified } from './verifying-writer.js';

export interface LocalDriverOptions {
  readonly root: string;
  /** Base URL clients reach the gateway at (signed URLs point back to it). */
  readonly baseUrl: () => string;
  readonly signingSecret?: string | undefined;
  readonly now?: () => number;
}

/**
 * The embedded default: artifacts on local disk, served by the gateway itself through signed,
 * expiring, method-bound URLs (`/v1/local/...`), streamed in constant memory with Range support.
 * It refuses a second writer exactly as a conditional S3 PUT does.
 */
export class LocalDriver implements StorageDriver {
  readonly name = 'local' as const;
  readonly capabilities: StorageCapabilities = { presign: true, conditionalWrites: true, digest: 'sha256', multipart: true };
  readonly signer: LocalUrlSigner;
  private readonly files: LocalFiles;
  private readonly multipart: LocalMultipart;
  private readonly now: () => number;

  constructor(opts: LocalDriverOptions) {
    this.now = opts.now ?? Date.now;
    const secret = opts.signingSecret ? Buffer.from(opts.signingSecret) : randomBytes(32);
    this.signer = new LocalUrlSigner(secret, opts.baseUrl, this.now);
    this.files = new LocalFiles(opts.root);
    this.multipart = new LocalMultipart(this.files, this.signer, this.now);
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

  presignDownload(ref: ArtifactRef, ttlSeconds: number): Promise<PresignedRequest> {
    const { url, expiresAt } = this.signer.sign({ method: 'GET', path: artifactKey(ref), params: {} }, ttlSeconds);
    return Promise.resolve({ url, method: 'GET', headers: {}, expiresAt });
  }

  presignUpload(intent: UploadIntent, ttlSeconds: number): Promise<PresignedRequest> {
    checkArtifactMeta(intent.meta);
    const params: Record<string, string> = { size: String(intent.size), sha256: intent.sha256 };
    if (intent.md5) params.md5 = intent.md5;
    for (const [k, v] of Object.entries(intent.meta ?? {})) params[`meta-${k}`] = v;
    const { url, expiresAt } = this.signer.sign({ method: 'PUT', path: artifactKey(intent.ref), params }, ttlSeconds);
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
      await this.files.discard(staging);
      throw err;
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

  async ping(): Promise<void> {
    try {
      await access(join(this.files.root, 'tmp'), constants.W_OK);
    } catch (err) {
      throw ioError(`local root ${this.files.root}`, err);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
