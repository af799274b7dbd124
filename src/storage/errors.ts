import { ServiceUnavailableError, VelocityError } from '../errors.js';

/** The store could not give a clear answer (network, 5xx, 403, timeout). Never a cache miss. */
export class StorageUnavailableError extends ServiceUnavailableError {
  constructor(message: string, cause?: unknown) {
    super(`storage unavailable: ${message}`, {
      code: 'storage_unavailable',
      retryAfterSeconds: 5,
      cause,
      publicMessage: 'storage unavailable: the object store cannot answer right now; retry later',
    });
  }
}

export class ArtifactNotFoundError extends VelocityError {
  constructor(what: string) {
    super(`artifact ${what} not found`, { status: 404, code: 'artifact_not_found' });
  }
}

/** A second writer was refused: the artifact already exists and stays as it is. */
export class ArtifactExistsError extends VelocityError {
  constructor(what: string) {
    super(`artifact ${what} already exists`, { status: 412, code: 'artifact_exists' });
  }
}

/** A body that does not match its declared length or digest. */
export class IntegrityError extends VelocityError {
  constructor(message: string) {
    super(message, { status: 400, code: 'integrity_mismatch' });
  }
}

export class UploadNotFoundError extends VelocityError {
  constructor(uploadId: string) {
    super(`upload ${uploadId} not found (completed, aborted or expired)`, { status: 404, code: 'upload_not_found' });
  }
}

/**
 * The store has no room (local disk ENOSPC/EDQUOT). Like an outage it is never a miss and nothing
 * partial is kept; 507 tells the client it is the store's capacity, and Retry-After when to try.
 */
export class StorageFullError extends VelocityError {
  constructor(what: string, cause?: unknown) {
    super(`storage full: ${what}`, {
      status: 507,
      code: 'storage_full',
      expose: true,
      headers: { 'Retry-After': '60' },
      cause,
      publicMessage: 'storage full: the store has no room for this write; retry later',
    });
  }
}

/** A self-served URL (local driver) that is not exactly one the driver signed, or has expired. */
export class SignedUrlRejectedError extends VelocityError {
  constructor(reason: string) {
    super(`signed URL rejected: ${reason}`, { status: 403, code: 'signature_rejected' });
  }
}

/** The store could not take or give bytes: an outage or a full store, counted as a storage error. */
export function isStorageOutage(err: unknown): err is StorageUnavailableError | StorageFullError {
  return err instanceof StorageUnavailableError || err instanceof StorageFullError;
}
