import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { classifyS3Error, toStorageError } from './classify-s3-error.js';

/** Whether a key exists: a 404 is `false`; anything else the store says is an outage, never "no". */
export async function objectExists(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return true;
  } catch (err) {
    if (classifyS3Error(err) === 'not_found') return false;
    throw toStorageError(err, key);
  }
}
