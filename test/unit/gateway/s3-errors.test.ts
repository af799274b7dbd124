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

describe('S3Driver without usable credentials', () => {
  it('reports the store as unavailable (503), never a miss and never a 500', async () => {
    const { S3Client } = await import('@aws-sdk/client-s3');
    const { S3Driver } = await import('../../../src/storage/s3/s3-driver.js');
    const { configSchema } = await import('../../../src/config/schema.js');
    const s3 = configSchema.parse({ storage: { driver: 's3', s3: { endpoint: 'http://127.0.0.1:9', bucket: 'bucket', forcePathStyle: true } } }).storage.s3;
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: () => Promise.reject(new Error('Could not load credentials from any providers')),
    });
    const driver = new S3Driver(s3, { client });
    const ref = { namespace: 'default', hash: 'h' };
    await expect(driver.head(ref)).rejects.toThrow(/cannot sign store requests.*AWS_ACCESS_KEY_ID/);
    await expect(driver.head(ref)).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(driver.presign.download({ ref, info: { size: 1, sha256: 'a'.repeat(64), createdAt: '' } }, 60)).rejects.toBeInstanceOf(StorageUnavailableError);
    await driver.close();
  });
});
