import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { UploadIntent } from '../driver.js';
import { IntegrityError } from '../errors.js';
import { artifactKey, blobKey, describeRef } from '../object-keys.js';
import { assertReplaceable } from '../replace-scope.js';
import { classifyS3Error, describeS3Error, toStorageError } from './classify-s3-error.js';
import { POINTER_UPLOAD_META } from './s3-object-info.js';

/**
 * Replaces a build binary the way a multipart artifact is published: the bytes go to a blob of a
 * fresh id (`blobKey`, derived from the ref and that id: immutable, and named by nothing read
 * from the store), then the pointer at the artifact key is written unconditionally to name it.
 * A reader resolves the old pointer or the new one; a GET already under way, or a URL signed
 * for the old blob, still reads the old bytes until the sweeper removes that blob as an orphan.
 */
export async function replaceS3Artifact(
  client: S3Client,
  bucket: string,
  intent: UploadIntent,
  digest: { readonly md5?: string | undefined; readonly sha256Base64?: string | undefined },
  meta: Record<string, string>,
  body: Readable,
  signal?: AbortSignal,
): Promise<void> {
  assertReplaceable(intent.ref);
  const what = describeRef(intent.ref);
  const uploadId = `r${randomBytes(18).toString('base64url')}`;
  const blob = blobKey(intent.ref, uploadId);
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: blob,
        Body: body,
        ContentLength: intent.size,
        ContentMD5: digest.md5,
        ChecksumSHA256: digest.sha256Base64,
        Metadata: { ...meta, sha256: intent.sha256 },
      }),
      { abortSignal: signal },
    );
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: artifactKey(intent.ref),
        Body: '',
        ContentLength: 0,
        Metadata: { [POINTER_UPLOAD_META]: uploadId },
      }),
      { abortSignal: signal },
    );
  } catch (err) {
    if (classifyS3Error(err) === 'bad_request') throw new IntegrityError(`${what}: ${describeS3Error(err)}`);
    throw toStorageError(err, what);
  }
}
