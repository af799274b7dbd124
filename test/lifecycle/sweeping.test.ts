import { afterEach, describe, expect, it } from '@jest/globals';
import { DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createS3Client } from '../../src/storage/s3/s3-driver.js';
import { artifact } from '../helpers/artifacts.js';
import { testConfig } from '../helpers/gateway.js';
import { DRIVERS, type StoreUnderTest } from '../contract/drivers.js';
import { hashesIn, lifecycleConfig, replica, testClock } from './harness.js';

const DAY = 86_400_000;

/** Uploads a one-part multipart artifact and returns its upload id (the part is PUT over HTTP). */
async function multipartUpload(t: StoreUnderTest, hash: string, complete: boolean): Promise<string> {
  const ref = { namespace: 'default', hash };
  const a = artifact(`multipart ${hash}`);
  const mp = await t.store.multipart!.create({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, [{ size: a.size, md5: a.md5 }], 900);
  const part = mp.parts[0]!;
  const res = await fetch(part.url, { method: 'PUT', headers: { ...part.headers }, body: a.body });
  if (res.status !== 200) throw new Error(`part upload: HTTP ${res.status}`);
  if (complete) await t.store.multipart!.complete(ref, mp.uploadId, [{ partNumber: 1, etag: res.headers.get('etag') ?? '' }]);
  return mp.uploadId;
}

describe('sweeping', () => {
  let t: StoreUnderTest | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('local driver: temporary files and dead upload folders go once older than the threshold, not before', async () => {
    const clock = testClock();
    const driver = DRIVERS.find((d) => d.name === 'local')!;
    t = await driver.create({ now: clock.now });
    const root = (t.storage.local as { root: string }).root;
    await writeFile(join(root, 'tmp', 'interrupted-write'), 'half an artifact');
    await mkdir(join(root, 'tmp', 'staging-dir'));
    await writeFile(join(root, 'tmp', 'staging-dir', 'data'), 'x'.repeat(100));
    const upload = await t.store.multipart!.create({ ref: { namespace: 'default', hash: 'abandoned' }, size: 3, sha256: 'a'.repeat(64) }, [{ size: 3, md5: artifact('abc').md5 }], 900);
    const lc = replica(lifecycleConfig(t, 'store', { abandonedAfter: '1d', eviction: { interval: 0 } }), t.store, clock);

    expect((await lc.gc({ dryRun: false })).swept).toEqual({ uploads: 0, orphans: 0, temporary: 0, freedBytes: 0 });
    clock.advance(DAY + 60_000);
    expect((await lc.gc({ dryRun: true })).swept).toMatchObject({ uploads: 1, temporary: 2 });
    expect(await readdir(join(root, 'tmp'))).toHaveLength(2);
    const report = await lc.gc({ dryRun: false });
    await lc.close();
    expect(report.swept).toMatchObject({ uploads: 1, temporary: 2 });
    // The two temporary files, and the upload's manifest.
    expect(report.swept.freedBytes).toBeGreaterThan('half an artifact'.length + 100);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    await expect(t.store.multipart!.abort({ namespace: 'default', hash: 'abandoned' }, upload.uploadId)).rejects.toMatchObject({ code: 'upload_not_found' });
  });

  it('s3 driver: abandoned uploads, blobs no pointer names and pointers whose blob is gone', async () => {
    const clock = testClock();
    const driver = DRIVERS.find((d) => d.name === 's3')!;
    t = await driver.create({ now: clock.now });
    const s3 = t.storage.s3 as { bucket: string };
    const raw: S3Client = createS3Client(testConfig({ storage: t.storage }).storage.s3);
    const keys = async (prefix: string) =>
      ((await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key);
    try {
      await multipartUpload(t, 'abandoned', false);
      const orphanBlobId = await multipartUpload(t, 'orphan-blob', true);
      await multipartUpload(t, 'orphan-pointer', true);
      const kept = await multipartUpload(t, 'kept', true);
      // What a crash half-way through a deletion (or a complete that lost) leaves behind.
      await raw.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'artifacts/default/orphan-blob' }));
      const pointerBlob = (await keys('blobs/artifacts/default/orphan-pointer/'))[0]!;
      await raw.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: pointerBlob }));

      const lc = replica(lifecycleConfig(t, 'redis', { abandonedAfter: '1d', eviction: { interval: 0 } }), t.store, clock);
      expect((await lc.gc({ dryRun: false })).swept).toMatchObject({ uploads: 0, orphans: 0 });
      clock.advance(DAY + 60_000);
      const report = await lc.gc({ dryRun: false });
      await lc.close();
      expect(report.swept).toMatchObject({ uploads: 1, orphans: 2 });
      expect(await keys('uploads/')).toEqual([]);
      expect(await keys('blobs/')).toEqual([`blobs/artifacts/default/kept/${kept}`]);
      expect(await keys('blobs/')).not.toContain(`blobs/artifacts/default/orphan-blob/${orphanBlobId}`);
      expect(await hashesIn(t.store)).toEqual(['kept']);
      expect((await t.store.head({ namespace: 'default', hash: 'kept' }))?.info.size).toBe('multipart kept'.length);
    } finally {
      raw.destroy();
    }
  });
});
