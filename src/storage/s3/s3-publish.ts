import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ArtifactRef, PutResult } from '../driver.js';
import { artifactKey, blobKey, describeRef } from '../object-keys.js';
import { classifyS3Error, toStorageError } from './classify-s3-error.js';
import { POINTER_UPLOAD_META } from './s3-object-info.js';

export interface PointerTarget {
  readonly client: S3Client;
  readonly bucket: string;
  /** Sends `If-None-Match: *` (off only for stores that reject it: first write wins is then best effort). */
  readonly conditionalWrites: boolean;
}

/**
 * Publishes an upload's blob as the artifact: the conditional PUT of a zero-length pointer at the
 * artifact key naming the upload id, the one step that decides which upload a key names. It is
 * never a CompleteMultipartUpload onto the artifact key: Ceph RGW 16 ignores `If-None-Match` there,
 * but honours it on PutObject. `meta` is what else the pointer records (an ingest's digest and facts).
 *
 * `exists` when another writer published first. Its pointer may name this very upload (a
 * concurrent complete of the same id, or a retried PUT whose first answer was lost): then this
 * blob is the artifact's bytes. The blob is deleted only when the key is known to hold something
 * else, so the winner's bytes are never removed; leftovers are unreachable and swept.
 */
export async function publishPointer(
  t: PointerTarget,
  ref: ArtifactRef,
  uploadId: string,
  meta: Readonly<Record<string, string>> = {},
  signal?: AbortSignal,
): Promise<PutResult> {
  try {
    await t.client.send(
      new PutObjectCommand({
        Bucket: t.bucket,
        Key: artifactKey(ref),
        Body: '',
        ContentLength: 0,
        IfNoneMatch: t.conditionalWrites ? '*' : undefined,
        Metadata: { ...meta, [POINTER_UPLOAD_META]: uploadId },
      }),
      { abortSignal: signal },
    );
    return 'created';
  } catch (err) {
    if (classifyS3Error(err) !== 'precondition_failed') throw toStorageError(err, describeRef(ref), uploadId);
  }
  if (await heldByAnother(t, ref, uploadId, signal)) await deleteQuietly(t, blobKey(ref, uploadId));
  return 'exists';
}

/** True only when the artifact key is known to hold something other than this upload. */
async function heldByAnother(t: PointerTarget, ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<boolean> {
  try {
    const head = await t.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: artifactKey(ref) }), { abortSignal: signal });
    const named = head.ContentLength === 0 ? head.Metadata?.[POINTER_UPLOAD_META] : undefined;
    return named !== uploadId;
  } catch {
    return false;
  }
}

/**
 * Removes a key we wrote and nothing names (a manifest, a blob that lost); a failed delete loses
 * nothing, the sweeper finds it. Never under the caller's signal: cleanup runs after an abort too.
 */
export async function deleteQuietly(t: Pick<PointerTarget, 'client' | 'bucket'>, key: string, timeoutMs = 10_000): Promise<void> {
  await t.client
    .send(new DeleteObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: AbortSignal.timeout(timeoutMs) })
    .catch(() => undefined);
}
