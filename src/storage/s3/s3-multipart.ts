import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  type Part,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ArtifactRef, CompletedPart, MultipartUpload, PartIntent, PutResult, UploadIntent } from '../driver.js';
import { IntegrityError, UploadNotFoundError } from '../errors.js';
import { UPLOAD_ID_PATTERN, blobKey, describeRef, manifestKey } from '../object-keys.js';
import { assertPresignable } from '../ingest-scope.js';
import { md5Base64ToHex, normalizeEtag } from '../artifact-meta.js';
import { classifyS3Error, toStorageError } from './classify-s3-error.js';
import { objectExists } from './s3-exists.js';
import { deleteQuietly, publishPointer } from './s3-publish.js';
import type { S3UrlSigner } from './s3-url-signer.js';

/**
 * What the gateway records at the start of a multipart upload, in the store itself (stateless),
 * under a key no client URL can write. The blob key is not in it: it is derived from the ref and
 * the upload id (object-keys.ts) every time.
 */
interface Manifest {
  s3UploadId: string;
  size: number;
  sha256: string;
  parts: PartIntent[];
}

/**
 * Large artifacts. Parts go to a private blob key per upload (`blobs/<space>/<ns>/<hash>/<id>`);
 * each part URL signs its length and MD5, so the store refuses any other bytes. The blob is
 * created with the artifact's digest and metadata as object metadata, written with the gateway's
 * credentials (a part upload cannot change it). Completing checks every part against the manifest,
 * assembles the blob, and then publishes the artifact with a conditional PUT of a zero-length
 * pointer at the artifact key that names the upload id. Publishing is what makes the artifact
 * visible, and it is refused (412) for a second writer on every store that enforces
 * `If-None-Match: *` on PutObject, including stores (Ceph RGW 16) that ignore it on
 * CompleteMultipartUpload.
 *
 * Concurrent completes, of one upload id or of several for one key, in any order: every step is
 * safe to repeat. A complete that finds its upload already assembled (NoSuchUpload while the
 * blob exists) goes on to publish it; a complete whose pointer PUT is refused deletes its blob
 * only when the published pointer is known to name another upload, so the winner's bytes are
 * never removed. Leftover blobs are unreachable, never wrong.
 */
export class S3Multipart {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly signer: S3UrlSigner,
    private readonly conditionalWrites: boolean,
    private readonly now: () => number,
  ) {}

  async create(
    intent: UploadIntent,
    parts: readonly PartIntent[],
    meta: Record<string, string>,
    ttlSeconds: number,
    signal?: AbortSignal,
  ): Promise<MultipartUpload> {
    assertPresignable(intent.ref);
    const what = describeRef(intent.ref);
    const uploadId = randomBytes(18).toString('base64url');
    const blob = blobKey(intent.ref, uploadId);
    let s3UploadId: string | undefined;
    try {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: blob, Metadata: { ...meta, sha256: intent.sha256 } }),
        { abortSignal: signal },
      );
      s3UploadId = created.UploadId;
      if (!s3UploadId) throw new Error('store returned no UploadId');
      const manifest: Manifest = { s3UploadId, size: intent.size, sha256: intent.sha256, parts: [...parts] };
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: manifestKey(intent.ref, uploadId),
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
          key: blob,
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
        new GetObjectCommand({ Bucket: this.bucket, Key: manifestKey(ref, uploadId) }),
        { abortSignal: signal },
      );
      return JSON.parse(await (res.Body as { transformToString(): Promise<string> }).transformToString()) as Manifest;
    } catch (err) {
      if (classifyS3Error(err) === 'not_found') throw new UploadNotFoundError(uploadId);
      throw toStorageError(err, describeRef(ref), uploadId);
    }
  }

  private async listParts(m: Manifest, blob: string, signal?: AbortSignal): Promise<Part[]> {
    const out: Part[] = [];
    let marker: string | undefined;
    for (;;) {
      const res = await this.client.send(
        new ListPartsCommand({ Bucket: this.bucket, Key: blob, UploadId: m.s3UploadId, PartNumberMarker: marker }),
        { abortSignal: signal },
      );
      out.push(...(res.Parts ?? []));
      if (!res.IsTruncated || !res.NextPartNumberMarker) return out;
      marker = res.NextPartNumberMarker;
    }
  }

  /** The client names every declared part, in order, with the ETag its declared MD5 gives. */
  private checkClaimed(m: Manifest, claimed: readonly CompletedPart[]): void {
    if (claimed.length !== m.parts.length) {
      throw new IntegrityError(`expected ${m.parts.length} parts, got ${claimed.length}`);
    }
    m.parts.forEach((declared, i) => {
      const c = claimed[i];
      if (!c || c.partNumber !== i + 1 || normalizeEtag(c.etag) !== md5Base64ToHex(declared.md5)) {
        throw new IntegrityError(`part ${i + 1}: the ETag sent does not match the declared part`);
      }
    });
  }

  /** Every declared part is stored with its declared length and MD5. */
  private checkStored(m: Manifest, stored: Part[]): void {
    const byNumber = new Map(stored.map((p) => [p.PartNumber, p]));
    m.parts.forEach((declared, i) => {
      const n = i + 1;
      const s = byNumber.get(n);
      if (!s) throw new IntegrityError(`part ${n} was not uploaded`);
      if (s.Size !== declared.size) throw new IntegrityError(`part ${n} has ${s.Size} bytes, declared ${declared.size}`);
      if (normalizeEtag(s.ETag ?? '') !== md5Base64ToHex(declared.md5)) {
        throw new IntegrityError(`part ${n} does not match its declared MD5`);
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
    this.checkClaimed(m, claimed);
    await this.assemble(ref, uploadId, m, signal);
    const result = await this.publish(ref, uploadId, signal);
    await this.deleteQuietly(manifestKey(ref, uploadId));
    return result;
  }

  /** Verifies the stored parts and assembles the blob; done already (by a concurrent complete) is fine. */
  private async assemble(ref: ArtifactRef, uploadId: string, m: Manifest, signal?: AbortSignal): Promise<void> {
    const blob = blobKey(ref, uploadId);
    try {
      this.checkStored(m, await this.listParts(m, blob, signal));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: blob,
          UploadId: m.s3UploadId,
          MultipartUpload: { Parts: m.parts.map((p, i) => ({ PartNumber: i + 1, ETag: `"${md5Base64ToHex(p.md5)}"` })) },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (err instanceof IntegrityError) throw err;
      // The store forgets an upload once it is assembled: NoSuchUpload, or from RGW 16 in the
      // middle of another complete of the same upload, NoSuchKey.
      const kind = classifyS3Error(err);
      if (kind !== 'no_such_upload' && kind !== 'not_found') throw toStorageError(err, describeRef(ref), uploadId);
      // Only a complete that verified every part assembles a blob (part URLs cannot write it),
      // so an existing blob is a verified one, and this complete goes on to publish it.
      if (!(await objectExists(this.client, this.bucket, blob, signal))) throw new UploadNotFoundError(uploadId);
    }
  }

  /** The conditional PUT of the pointer: the one step that decides which upload the key names. */
  private publish(ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<PutResult> {
    return publishPointer({ client: this.client, bucket: this.bucket, conditionalWrites: this.conditionalWrites }, ref, uploadId, {}, signal);
  }

  async abort(ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<void> {
    const m = await this.readManifest(ref, uploadId, signal);
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: blobKey(ref, uploadId), UploadId: m.s3UploadId }),
        { abortSignal: signal },
      );
    } catch (err) {
      // Already assembled (a complete ran): the blob stays, it may be the artifact's bytes.
      if (classifyS3Error(err) !== 'no_such_upload') throw toStorageError(err, describeRef(ref), uploadId);
    }
    await this.deleteQuietly(manifestKey(ref, uploadId));
  }

  private async deleteQuietly(key: string): Promise<void> {
    // Leftovers are unreachable (no artifact points at them); a failed delete loses nothing.
    await deleteQuietly({ client: this.client, bucket: this.bucket }, key);
  }
}
