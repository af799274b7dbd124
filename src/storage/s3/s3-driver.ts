import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3Config } from '../../config/schema.js';
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
import { ArtifactNotFoundError, IntegrityError, StorageUnavailableError } from '../errors.js';
import { artifactKey, blobKey, describeRef } from '../object-keys.js';
import { classifyS3Error, describeS3Error, toStorageError } from './classify-s3-error.js';
import { S3Head } from './s3-head.js';
import { S3Multipart } from './s3-multipart.js';
import { S3UrlSigner, type S3Location } from './s3-url-signer.js';

export function s3Location(config: S3Config, endpoint = config.endpoint): { location: S3Location; origin: string } {
  const base = new URL(endpoint ?? `https://s3.${config.region}.amazonaws.com`);
  const bucket = config.bucket as string;
  const hostname = config.forcePathStyle ? base.hostname : `${bucket}.${base.hostname}`;
  const port = base.port ? Number(base.port) : undefined;
  const protocol = base.protocol === 'http:' ? 'http:' : 'https:';
  return {
    location: { protocol, hostname, port, basePath: config.forcePathStyle ? `/${bucket}` : '' },
    origin: `${protocol}//${hostname}${port === undefined ? '' : `:${port}`}`,
  };
}

export function createS3Client(config: S3Config): S3Client {
  return new S3Client({
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    // The default (WHEN_SUPPORTED) adds an empty-body CRC32 to every request and presigned URL,
    // which MinIO and R2 then check against the real body and reject.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2,
    requestHandler: { requestTimeout: config.timeout * 1000, connectionTimeout: config.timeout * 1000 },
  });
}

/** AWS S3, MinIO, Ceph RGW, R2: anything that speaks S3 with SigV4. */
export class S3Driver implements StorageDriver {
  readonly name = 's3' as const;
  readonly capabilities: StorageCapabilities;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly signer: S3UrlSigner;
  private readonly heads: S3Head;
  private readonly multipart: S3Multipart;
  /** False until the bucket is known to exist (only tracked with VC_S3_CREATE_BUCKET). */
  private bucketReady: boolean;
  /**
   * Where the bytes of each artifact `head()` answered live, keyed by the very object it returned:
   * callers hand the info back to spare a second HEAD, but can neither forge nor alter an entry.
   */
  private readonly located = new WeakMap<ArtifactInfo, { readonly key: string; readonly location: string }>();

  private readonly now: () => number;

  constructor(
    private readonly config: S3Config,
    opts: { client?: S3Client; now?: () => number } = {},
  ) {
    this.client = opts.client ?? createS3Client(config);
    this.now = opts.now ?? Date.now;
    const client = this.client;
    if (!config.bucket) throw new Error('S3Driver needs a bucket');
    this.bucket = config.bucket;
    const signerOptions = { credentials: client.config.credentials, region: config.region, now: this.now };
    const internal = s3Location(config);
    // URLs for clients name the public endpoint; the gateway's own HEADs go to the internal one.
    this.signer = new S3UrlSigner(s3Location(config, config.publicEndpoint ?? config.endpoint).location, signerOptions);
    const headSigner = config.publicEndpoint ? new S3UrlSigner(internal.location, signerOptions) : this.signer;
    this.heads = new S3Head(headSigner, internal.origin, config.timeout * 1000);
    this.multipart = new S3Multipart(client, this.bucket, this.signer, config.conditionalWrites, this.now);
    this.bucketReady = !config.createBucket;
    this.capabilities = {
      presign: true,
      conditionalWrites: config.conditionalWrites,
      digest: config.integrity,
      multipart: true,
    };
  }

  /** Creates the bucket when it is missing and VC_S3_CREATE_BUCKET is set. */
  async init(signal?: AbortSignal): Promise<void> {
    if (this.bucketReady) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
      this.bucketReady = true;
      return;
    } catch (err) {
      if (classifyS3Error(err) !== 'not_found') throw toStorageError(err, `bucket ${this.bucket}`);
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') {
        throw toStorageError(err, `create bucket ${this.bucket}`);
      }
    }
    this.bucketReady = true;
  }

  async head(ref: ArtifactRef, signal?: AbortSignal): Promise<ArtifactInfo | null> {
    const found = await this.lookup(ref, signal);
    if (!found) return null;
    this.located.set(found.info, { key: artifactKey(ref), location: found.location });
    return found.info;
  }

  /**
   * What is stored for `ref` and where its bytes are. The location is always derived here from the
   * ref (the artifact key, or for a pointer the blob key of the upload it names, see
   * s3-object-info.ts): nothing written by a client can make it name another key.
   */
  private async lookup(ref: ArtifactRef, signal?: AbortSignal): Promise<{ info: ArtifactInfo; location: string } | null> {
    // A store that was down at start-up may still lack the bucket; a 404 then would mean "no
    // bucket", not "no artifact", so create it before answering.
    if (!this.bucketReady) await this.init(signal);
    const key = artifactKey(ref);
    const stored = await this.heads.head(key, signal);
    if (!stored) return null;
    if (stored.kind === 'artifact') return { info: stored.info, location: key };
    // A multipart artifact: size, digest and metadata are the blob's, which only the gateway
    // writes; the pointer only says which of this ref's uploads holds them, and when it was published.
    const location = blobKey(ref, stored.uploadId);
    const blob = await this.heads.head(location, signal);
    if (blob?.kind !== 'artifact') throw new StorageUnavailableError(`${key}: points at an upload whose bytes are missing`);
    return { info: { ...blob.info, createdAt: stored.createdAt }, location };
  }

  /** The location of `ref`'s bytes: from the info `head()` returned for this ref, else looked up. */
  private async locate(ref: ArtifactRef, info: ArtifactInfo | undefined, signal?: AbortSignal): Promise<{ info: ArtifactInfo; location: string }> {
    const known = info ? this.located.get(info) : undefined;
    if (info && known?.key === artifactKey(ref)) return { info, location: known.location };
    const found = await this.lookup(ref, signal);
    if (!found) throw new ArtifactNotFoundError(describeRef(ref));
    return found;
  }

  async presignDownload(ref: ArtifactRef, ttlSeconds: number, info?: ArtifactInfo, signal?: AbortSignal): Promise<PresignedRequest> {
    const { location } = await this.locate(ref, info, signal);
    const url = await this.signer.sign({ method: 'GET', key: location, ttlSeconds });
    return { url, method: 'GET', headers: {}, expiresAt: new Date(this.now() + ttlSeconds * 1000) };
  }

  /**
   * Headers signed into an upload URL: the store checks length and digest, and refuses a second
   * writer. The metadata the gateway records is signed as headers, not query parameters: RGW
   * joins an unsigned header with a signed query parameter of the same name, while a signed
   * header admits no other value and no second copy (see s3-object-info.ts).
   */
  private uploadHeaders(intent: UploadIntent): Record<string, string> {
    const headers: Record<string, string> = { 'Content-Length': String(intent.size) };
    if (this.config.conditionalWrites) headers['If-None-Match'] = '*';
    if (this.config.integrity === 'md5') {
      if (!intent.md5) throw new IntegrityError('md5 is required by this store');
      headers['Content-MD5'] = intent.md5;
    } else {
      headers['x-amz-checksum-sha256'] = sha256HexToBase64(intent.sha256);
    }
    return headers;
  }

  async presignUpload(intent: UploadIntent, ttlSeconds: number): Promise<PresignedRequest> {
    const headers = this.uploadHeaders(intent);
    for (const [k, v] of Object.entries(checkArtifactMeta(intent.meta))) headers[`x-amz-meta-${k}`] = v;
    headers['x-amz-meta-sha256'] = intent.sha256;
    const url = await this.signer.sign({ method: 'PUT', key: artifactKey(intent.ref), ttlSeconds, headers });
    return { url, method: 'PUT', headers, expiresAt: new Date(this.now() + ttlSeconds * 1000) };
  }

  createMultipartUpload(
    intent: UploadIntent,
    parts: readonly PartIntent[],
    ttlSeconds: number,
    signal?: AbortSignal,
  ): Promise<MultipartUpload> {
    return this.multipart.create(intent, parts, checkArtifactMeta(intent.meta), ttlSeconds, signal);
  }

  completeMultipartUpload(
    ref: ArtifactRef,
    uploadId: string,
    parts: readonly CompletedPart[],
    signal?: AbortSignal,
  ): Promise<PutResult> {
    return this.multipart.complete(ref, uploadId, parts, signal);
  }

  abortMultipartUpload(ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<void> {
    return this.multipart.abort(ref, uploadId, signal);
  }

  async put(intent: UploadIntent, body: Readable, signal?: AbortSignal): Promise<PutResult> {
    const what = describeRef(intent.ref);
    const digest = this.uploadHeaders(intent);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: artifactKey(intent.ref),
          Body: body,
          ContentLength: intent.size,
          IfNoneMatch: digest['If-None-Match'],
          ContentMD5: digest['Content-MD5'],
          ChecksumSHA256: digest['x-amz-checksum-sha256'],
          Metadata: { ...checkArtifactMeta(intent.meta), sha256: intent.sha256 },
        }),
        { abortSignal: signal },
      );
      return 'created';
    } catch (err) {
      const kind = classifyS3Error(err);
      if (kind === 'precondition_failed') return 'exists';
      if (kind === 'bad_request') throw new IntegrityError(`${what}: ${describeS3Error(err)}`);
      throw toStorageError(err, what);
    }
  }

  async get(ref: ArtifactRef, range?: ByteRange, signal?: AbortSignal): Promise<ArtifactStream> {
    const { info, location } = await this.locate(ref, undefined, signal);
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: location,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal: signal },
      );
      return { info, body: res.Body as Readable, ...(range ? { range } : {}) };
    } catch (err) {
      if (classifyS3Error(err) === 'not_found') throw new ArtifactNotFoundError(describeRef(ref));
      throw toStorageError(err, describeRef(ref));
    }
  }

  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
    } catch (err) {
      throw new StorageUnavailableError(`bucket ${this.bucket}: ${describeS3Error(err)}`, err);
    }
  }

  async close(): Promise<void> {
    await this.heads.close();
    this.client.destroy();
  }
}
