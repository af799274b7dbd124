import { ArtifactExistsError, StorageUnavailableError, UploadNotFoundError } from '../errors.js';

interface SdkLikeError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

export type S3ErrorKind = 'not_found' | 'no_such_upload' | 'precondition_failed' | 'bad_request' | 'unavailable';

/**
 * The one place store answers are sorted. Only a clear 404 NoSuchKey/NotFound is "not found";
 * 412 is a refused second writer. Everything else (403 from bad credentials or clock skew,
 * 5xx, throttling, timeouts, connection errors) is "unavailable": the cache cannot answer, which
 * is never the same as a miss.
 */
export function classifyS3Error(err: unknown): S3ErrorKind {
  const e = (err ?? {}) as SdkLikeError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? e.Code ?? '';
  if (name === 'NoSuchUpload') return 'no_such_upload';
  if (status === 404 || name === 'NotFound' || name === 'NoSuchKey') return 'not_found';
  if (status === 412 || name === 'PreconditionFailed') return 'precondition_failed';
  if (status === 400 && ['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'BadDigest', 'InvalidDigest'].includes(name)) {
    return 'bad_request';
  }
  return 'unavailable';
}

export function describeS3Error(err: unknown): string {
  const e = (err ?? {}) as SdkLikeError;
  const status = e.$metadata?.httpStatusCode;
  const code = (err as { code?: string } | undefined)?.code;
  const name = e.name && e.name !== 'Error' ? e.name : (e.Code ?? code ?? e.message ?? 'Error');
  const hint = status === 403 ? ' (check credentials, bucket policy and the clock)' : '';
  return `${name}${status ? ` HTTP ${status}` : ''}${hint}`;
}

/** Maps a store error to the neutral errors the rest of the code knows. */
export function toStorageError(err: unknown, what: string, uploadId?: string): Error {
  switch (classifyS3Error(err)) {
    case 'precondition_failed':
      return new ArtifactExistsError(what);
    case 'no_such_upload':
      return new UploadNotFoundError(uploadId ?? 'unknown');
    default:
      return new StorageUnavailableError(`${what}: ${describeS3Error(err)}`, err);
  }
}
