import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type Part,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ArtifactRef, CompletedPart, MultipartUpload, PartIntent, PutResult, UploadIntent } from '../driver.js';
import { IntegrityError, UploadNotFoundError } from '../errors.js';
import { UPLOAD_ID_PATTERN, artifactKey, describeRef } from '../object-keys.js';
import { md5Base64ToHex, normalizeEtag } from '../artifact-meta.js';
import { classifyS3Error, toStorageError } from './classify-s3-error.js';
import type { S3UrlSigner } from './s3-url-signer.js';


/** What the gateway records at the start of a multipart upload, in the store itself (stateless). */
interface Manifest {
  s3UploadId: string;
  blobKey: string;
  size: number;
  sha256: string;
  meta: Record<string, string>;
  parts: PartIntent[];
}

/**
 * Large artifacts. Parts go to a private blob key; each part URL signs its length and MD5, so the
 * store refuses any other bytes. Completing checks every part against the manifest, assembles the
 * blob, and then publishes the artifact with a conditional PUT of a small pointer object at the
 * artifact key. Publishing is what makes the artifact visible, and it is refused (412) for a
 * second writer on every store that enforces `If-None-Match: *` on PutObject, including stores
 * (Ceph RGW 16) that ignore it on CompleteMultipartUpload.
 */
export class S3Multipart {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly signer: S3UrlSigner,
    private readonly conditionalWrites: boolean,
    private readonly now: () => number,
  ) {}

  private manifestKey(ref: ArtifactRef, uploadId: string): string {
    return `uploads/${ref.namespace}/${ref.hash}/${uploadId}.json`;
  }

  async create(
    intent: UploadIntent,
    parts: readonly PartIntent[],
    meta: Record<string, string>,
    ttlSeconds: number,
    signal?: AbortSignal,
  ): Promise<MultipartUpload> {
    const what = describeRef(intent.ref);
    const uploadId = randomBytes(18).toString('base64url');
    const blobKey = `blobs/${intent.ref.namespace}/${intent.ref.hash}/${uploadId}`;
    let s3UploadId: string | undefined;
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: blobKey }),
        { abortSignal: signal },
      );
      s3UploadId = created.UploadId;
      if (!s3UploadId) throw new Error('store returned no UploadId');
      const manifest: Manifest = { s3UploadId, blobKey, size: intent.size, sha256: intent.sha256, meta, parts: [...parts] };
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.manifestKey(intent.ref, uploadId),
          Body: JSON.stringify(manifest),
          ContentType: 'application/json',
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw toStorageError(err, what);
    }
    const expiresAt = new Date(this.now() + ttlSeconds * 1000);
    const presigned = await Promise.all(
      parts.map(async (part, i) => {
        const headers = { 'Content-Length': String(part.size), 'Content-MD5': part.md5 };
        const url = await this.signer.sign({
          method: 'PUT',
          key: blobKey,
          ttlSeconds,
          headers,
          query: { partNumber: String(i + 1), uploadId: s3UploadId },
        });
        return { partNumber: i + 1, url, method: 'PUT' as const, headers, expiresAt };
      }),
    );
    return { uploadId, parts: presigned, expiresAt };
  }

  private async readManifest(ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<Manifest> {
    if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new UploadNotFoundError(uploadId);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.manifestKey(ref, uploadId) }),
        { abortSignal: signal },
      );
      return JSON.parse(await (res.Body as { transformToString(): Promise<string> }).transformToString()) as Manifest;
    } catch (err) {
      if (classifyS3Error(err) === 'not_found') throw new UploadNotFoundError(uploadId);
      throw toStorageError(err, describeRef(ref), uploadId);
    }
  }

  private async listParts(m: Manifest, signal?: AbortSignal): Promise<Part[]> {
    const out: Part[] = [];
    let marker: string | undefined;
    for (;;) {
      const res = await this.client.send(
        new ListPartsCommand({ Bucket: this.bucket, Key: m.blobKey, UploadId: m.s3UploadId, PartNumberMarker: marker }),
        { abortSignal: signal },
      );
      out.push(...(res.Parts ?? []));
      if (!res.IsTruncated || !res.NextPartNumberMarker) return out;
      marker = res.NextPartNumberMarker;
    }
  }

  /** Every declared part present, with its declared length and MD5, and the client agrees. */
  private verifyParts(m: Manifest, stored: Part[], claimed: readonly CompletedPart[]): void {
    if (claimed.length !== m.parts.length) {
      throw new IntegrityError(`expected ${m.parts.length} parts, got ${claimed.length}`);
    }
    const byNumber = new Map(stored.map((p) => [p.PartNumber, p]));
    m.parts.forEach((declared, i) => {
      const n = i + 1;
      const s = byNumber.get(n);
      const c = claimed[i];
      if (!s) throw new IntegrityError(`part ${n} was not uploaded`);
      if (s.Size !== declared.size) throw new IntegrityError(`part ${n} has ${s.Size} bytes, declared ${declared.size}`);
      const etag = normalizeEtag(s.ETag ?? '');
      if (etag !== md5Base64ToHex(declared.md5)) throw new IntegrityError(`part ${n} does not match its declared MD5`);
      if (!c || c.partNumber !== n || normalizeEtag(c.etag) !== etag) {
        throw new IntegrityError(`part ${n}: the ETag sent does not match the stored part`);
      }
    });
  }

  async complete(
    ref: ArtifactRef,
    uploadId: string,
    claimed: readonly CompletedPart[],
    signal?: AbortSignal,
  ): Promise<PutResult> {
    const m = await this.readManifest(ref, uploadId, signal);
    const what = describeRef(ref);
    try {
      this.verifyParts(m, await this.listParts(m, signal), claimed);
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: m.blobKey,
          UploadId: m.s3UploadId,
          MultipartUpload: { Parts: m.parts.map((_, i) => ({ PartNumber: i + 1, ETag: claimed[i]?.etag })) },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (err instanceof IntegrityError) throw err;
      if (classifyS3Error(err) === 'no_such_upload') throw new UploadNotFoundError(uploadId);
      throw toStorageError(err, what, uploadId);
    }
    let result: PutResult = 'created';
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: artifactKey(ref),
          Body: '',
          ContentLength: 0,
          IfNoneMatch: this.conditionalWrites ? '*' : undefined,
          Metadata: { ...m.meta, sha256: m.sha256, size: String(m.size), location: m.blobKey },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (classifyS3Error(err) !== 'precondition_failed') throw toStorageError(err, what);
      result = 'exists';
      await this.deleteQuietly(m.blobKey);
    }
    await this.deleteQuietly(this.manifestKey(ref, uploadId));
    return result;
  }

  async abort(ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<void> {
    const m = await this.readManifest(ref, uploadId, signal);
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: m.blobKey, UploadId: m.s3UploadId }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (classifyS3Error(err) !== 'no_such_upload') throw toStorageError(err, describeRef(ref), uploadId);
    }
    await this.deleteQuietly(this.manifestKey(ref, uploadId));
  }

  private async deleteQuietly(key: string): Promise<void> {
    // Leftovers are unreachable (no artifact points at them); a failed delete loses nothing.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
  }
}
