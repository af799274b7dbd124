import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3Config } from './s3-config.js';
import { checkArtifactMeta, sha256HexToBase64 } from '../artifact-meta.js';
import type {
  ArtifactHandle,
  ArtifactRef,
  ArtifactStream,
  ByteRange,
  IngestIntent,
  IngestResult,
  ListPage,
  ListQuery,
  MultipartFacet,
  PresignFacet,
  PresignedRequest,
  PutResult,
  ReplaceFacet,
  StorageCapabilities,
  StorageDriver,
  SweepFacet,
  UploadIntent,
} from '../driver.js';
import { ArtifactNotFoundError, IntegrityError, StorageUnavailableError } from '../errors.js';
import { artifactKey, describeRef } from '../object-keys.js';
import { assertPresignable } from '../ingest-scope.js';
import { assertReplaceable } from '../replace-scope.js';
import { classifyS3Error, describeS3Error, toStorageError } from './classify-s3-error.js';
import { S3Head } from './s3-head.js';
import { S3Ingest } from './s3-ingest.js';
import { S3Listing } from './s3-listing.js';
import { S3Locator } from './s3-locator.js';
import { S3Multipart } from './s3-multipart.js';
import { S3Records } from './s3-records.js';
import { replaceS3Artifact } from './s3-replace.js';
import { S3Sweeper } from './s3-sweeper.js';
import { createS3Client, s3Location } from './s3-client.js';
import { S3UrlSigner } from './s3-url-signer.js';

// Where the client and the store's location come from; exported here too, as they always were.
export { createS3Client, s3Location } from './s3-client.js';

/** AWS S3, MinIO, Ceph RGW, R2: anything that speaks S3 with SigV4. */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly capabilities: StorageCapabilities;
  readonly presign: PresignFacet;
  readonly multipart: MultipartFacet;
  readonly records: S3Records;
  readonly sweeper: SweepFacet;
  readonly replace: ReplaceFacet;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly signer: S3UrlSigner;
  private readonly heads: S3Head;
  private readonly locator: S3Locator;
  private readonly listing: S3Listing;
  private readonly ingester: S3Ingest;
  /** False until the bucket is known to exist (only tracked with VC_S3_CREATE_BUCKET). */
  private bucketReady: boolean;
  private closed = false;
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
    const multipart = new S3Multipart(client, this.bucket, this.signer, config.conditionalWrites, this.now);
    this.multipart = {
      create: (intent, parts, ttl, signal) => multipart.create(intent, parts, checkArtifactMeta(intent.meta), ttl, signal),
      complete: (ref, uploadId, parts, signal) => multipart.complete(ref, uploadId, parts, signal),
      abort: (ref, uploadId, signal) => multipart.abort(ref, uploadId, signal),
    };
    this.bucketReady = !config.createBucket;
    // A store that was down at start-up may still lack the bucket; a 404 then would mean "no
    // bucket", not "no artifact", so create it before answering.
    this.locator = new S3Locator(this.heads, (signal) => (this.bucketReady ? Promise.resolve() : this.init(signal)));
    this.listing = new S3Listing(client, this.bucket, this.locator);
    this.records = new S3Records(client, this.bucket, this.listing, config.conditionalWrites);
    this.sweeper = new S3Sweeper(client, this.bucket, this.listing, this.locator, multipart);
    this.presign = {
      download: (handle, ttl, signal) => this.presignDownload(handle, ttl, signal),
      upload: (intent, ttl) => this.presignUpload(intent, ttl),
    };
    this.ingester = new S3Ingest({
      client,
      bucket: this.bucket,
      conditionalWrites: config.conditionalWrites,
      locator: this.locator,
      partSize: config.ingestPartSize,
      concurrency: config.ingestConcurrency,
      timeoutMs: config.timeout * 1000,
      now: this.now,
    });
    this.capabilities = { conditionalWrites: config.conditionalWrites, digest: config.integrity };
    this.replace = {
      replace: async (intent, body, signal) => {
        // The scope first: nothing outside the builds space gets as far as a digest check.
        assertReplaceable(intent.ref);
        const digest = this.uploadHeaders(intent);
        const checked = { md5: digest['Content-MD5'], sha256Base64: digest['x-amz-checksum-sha256'] };
        await replaceS3Artifact(client, this.bucket, intent, checked, checkArtifactMeta(intent.meta), body, signal);
      },
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

  async head(ref: ArtifactRef, signal?: AbortSignal): Promise<ArtifactHandle | null> {
    const found = await this.locator.lookup(ref, signal);
    if (!found) return null;
    const handle: ArtifactHandle = { ref, info: found.info };
    this.locator.remember(handle, ref, found.location);
    return handle;
  }

  private async presignDownload(handle: ArtifactHandle, ttlSeconds: number, signal?: AbortSignal): Promise<PresignedRequest> {
    const { location } = await this.locator.locate(handle, signal);
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

  private async presignUpload(intent: UploadIntent, ttlSeconds: number): Promise<PresignedRequest> {
    assertPresignable(intent.ref);
    const headers = this.uploadHeaders(intent);
    for (const [k, v] of Object.entries(checkArtifactMeta(intent.meta))) headers[`x-amz-meta-${k}`] = v;
    headers['x-amz-meta-sha256'] = intent.sha256;
    const url = await this.signer.sign({ method: 'PUT', key: artifactKey(intent.ref), ttlSeconds, headers });
    return { url, method: 'PUT', headers, expiresAt: new Date(this.now() + ttlSeconds * 1000) };
  }

  async write(intent: UploadIntent, body: Readable, signal?: AbortSignal): Promise<PutResult> {
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

  /** See s3-ingest.ts: a blob streamed (in parts when large or chunked), then a conditional pointer. */
  ingest(intent: IngestIntent, body: Readable, signal?: AbortSignal): Promise<IngestResult> {
    return this.ingester.ingest(intent, body, signal);
  }

  /**
   * A blob's key names its upload, so its bytes never change; a plain artifact's key may have been
   * evicted and written anew since `head()`. The GET checks the digest the object records
   * (`x-amz-meta-sha256`, a signed header) against the handle's: another digest means the key was
   * written anew, so it is looked up once more and the info served is always the bytes' own.
   */
  async openRead(handle: ArtifactHandle, range?: ByteRange, signal?: AbortSignal): Promise<ArtifactStream> {
    const first = await this.locator.locate(handle, signal);
    const stream = await this.getObject(handle.ref, first.location, first.info.sha256, range, signal);
    if (stream) return { info: first.info, body: stream, ...(range ? { range } : {}) };
    const again = await this.locator.lookup(handle.ref, signal);
    if (!again) throw new ArtifactNotFoundError(describeRef(handle.ref));
    const body = await this.getObject(handle.ref, again.location, again.info.sha256, range, signal);
    if (!body) throw new StorageUnavailableError(`${describeRef(handle.ref)}: changed while being read`);
    return { info: again.info, body, ...(range ? { range } : {}) };
  }

  /**
   * `undefined` when the object holds other bytes than `sha256` (the key was written anew). Only
   * the artifact key can be: a blob's key names its upload, and an ingested blob records no digest
   * of its own (its pointer does, see s3-ingest.ts).
   */
  private async getObject(ref: ArtifactRef, key: string, sha256: string, range: ByteRange | undefined, signal?: AbortSignal): Promise<Readable | undefined> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
        { abortSignal: signal },
      );
      const body = res.Body as Readable;
      if (key !== artifactKey(ref) || res.Metadata?.sha256 === sha256) return body;
      body.destroy();
      return undefined;
    } catch (err) {
      if (classifyS3Error(err) === 'not_found') throw new ArtifactNotFoundError(describeRef(ref));
      throw toStorageError(err, describeRef(ref));
    }
  }

  delete(targets: readonly { readonly ref: ArtifactRef }[], signal?: AbortSignal): Promise<void> {
    return this.listing.delete(targets, signal);
  }

  list(query: ListQuery, signal?: AbortSignal): Promise<ListPage> {
    return this.listing.list(query, signal);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
    } catch (err) {
      throw new StorageUnavailableError(`bucket ${this.bucket}: ${describeS3Error(err)}`, err);
    }
  }

  /** Safe to call again (a gateway closes the store it was given, and so may its owner). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.heads.close();
    this.client.destroy();
  }
}
