import { describe, expect, it } from '@jest/globals';
import { classifyS3Error, toStorageError } from '../../../src/storage/s3/classify-s3-error.js';
import { ArtifactExistsError, StorageUnavailableError } from '../../../src/storage/errors.js';

const sdk = (name: string, status?: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

describe('classifyS3Error', () => {
  it('treats only a clear 404 as not found', () => {
    expect(classifyS3Error(sdk('NotFound', 404))).toBe('not_found');
    expect(classifyS3Error(sdk('NoSuchKey', 404))).toBe('not_found');
  });

  it.each([
    ['AccessDenied', 403],
    ['SignatureDoesNotMatch', 403],
    ['RequestTimeTooSkewed', 403],
    ['InternalError', 500],
    ['SlowDown', 503],
    ['TimeoutError', undefined],
    ['ECONNREFUSED', undefined],
  ])('%s (%s) is an outage, never a miss', (name, status) => {
    expect(classifyS3Error(sdk(name, status))).toBe('unavailable');
    const mapped = toStorageError(sdk(name, status), 'ns/h');
    expect(mapped).toBeInstanceOf(StorageUnavailableError);
    expect((mapped as StorageUnavailableError).status).toBe(503);
  });

  it('maps 412 to a refused second writer and says why a 403 may happen', () => {
    expect(toStorageError(sdk('PreconditionFailed', 412), 'ns/h')).toBeInstanceOf(ArtifactExistsError);
    expect(toStorageError(sdk('AccessDenied', 403), 'ns/h').message).toMatch(/credentials.*clock/);
  });
});
