import { afterEach, describe, expect, it } from '@jest/globals';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ArtifactRef, KeySpace } from '../../src/storage/driver.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { KEY_SPACES, blobKey } from '../../src/storage/object-keys.js';
import { S3Driver, createS3Client } from '../../src/storage/s3/s3-driver.js';
import { uniqueHash } from '../helpers/artifacts.js';
import { s3TestEnv, startGateway, testConfig } from '../helpers/gateway.js';
import { DRIVERS, type StoreUnderTest } from '../contract/drivers.js';
import { MiB, chunked, drained, eventually, handFed } from '../contract/ingest-bodies.js';
import { lifecycleConfig, replica, testClock, writeArtifact } from './harness.js';

const DAY = 86_400_000;
const MAX = 64 * MiB;

async function ingest(t: StoreUnderTest, space: KeySpace, body: string | Buffer, hash = uniqueHash()): Promise<ArtifactRef> {
  const ref: ArtifactRef = { space, namespace: 'default', hash };
  const out = await t.store.ingest({ ref, maxSize: MAX }, chunked(Buffer.from(body)));
  if (out.result !== 'created') throw new Error(`${hash} already existed`);
  return ref;
}

/** Ingested artifacts live in their protocol's key space; eviction, statistics and sweeping cover every space. */
describe.each([
  ['local', 'store'],
  ['s3', 'redis'],
] as const)('ingested artifacts in the store lifecycle (%s driver)', (name, backend) => {
  const driver = DRIVERS.find((d) => d.name === name)!;
  let t: StoreUnderTest | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('a pass evicts across every key space by the policy; stats and gauges count each space; evicted blobs go too', async () => {
    const clock = testClock();
    t = await driver.create({ now: clock.now });
    const lc = replica(lifecycleConfig(t, backend, { eviction: { policy: 'lru', maxEntries: 2, interval: 0 } }), t.store, clock);
    try {
      const turbo = await ingest(t, 'turbo', 'turbo bytes');
      const cas = await ingest(t, 'bazel-cas', randomBytes(6 * MiB));
      const http = await ingest(t, 'http', 'ccache object');
      await writeArtifact(t.store, { namespace: 'default', hash: 'native' }, 'native bytes');
      clock.advance(60_000);
      lc.access.hit(http);
      clock.advance(1000);
      lc.access.hit({ namespace: 'default', hash: 'native' });

      const usage = await lc.usage();
      expect(usage.map((u) => `${u.space}:${u.objects}`).sort()).toEqual(['artifacts:1', 'bazel-cas:1', 'http:1', 'turbo:1']);
      expect(usage.find((u) => u.space === 'bazel-cas')?.bytes).toBe(6 * MiB);

      const report = await lc.gc({ dryRun: false });
      expect(report).toMatchObject({ deleted: 2, kept: 2, complete: true });
      expect(await t.store.head(turbo)).toBeNull();
      expect(await t.store.head(cas)).toBeNull();
      expect((await t.store.head(http))?.info.size).toBe('ccache object'.length);
      // Deleting a pointer takes its blob along: nothing of the evicted artifacts is left.
      expect(await t.leftovers(cas)).toEqual([]);
      expect(await t.leftovers(turbo)).toEqual([]);

      const gauge = async (space: string): Promise<number | undefined> =>
        (await lc.metrics.storeObjects.get()).values.find((v) => v.labels.space === space)?.value;
      expect(await gauge('http')).toBe(1);
      expect(await gauge('artifacts')).toBe(1);
      expect(await gauge('turbo')).toBe(0);
      expect(await gauge('bazel-cas')).toBe(0);
      for (const space of KEY_SPACES) expect(await gauge(space)).toBeDefined();
    } finally {
      await lc.close();
    }
  });

  it('sweeping: an ingest abandoned mid-stream is removed once older than the threshold, not before; published ones stay', async () => {
    const clock = testClock();
    t = await driver.create({ now: clock.now });
    const lc = replica(lifecycleConfig(t, backend, { abandonedAfter: '1d', eviction: { interval: 0 } }), t.store, clock);
    try {
      const kept = await ingest(t, 'nx', randomBytes(6 * MiB));
      const r: ArtifactRef = { space: 'turbo', namespace: 'default', hash: uniqueHash() };
      const body = handFed();
      const ac = new AbortController();
      // As if the gateway died mid-upload: nothing will finish or clean up this ingest.
      const stalled = t.store.ingest({ ref: r, maxSize: MAX }, body, ac.signal).then(() => 'stored', (err: unknown) => err);
      for (let i = 0; i < 11; i++) body.write(randomBytes(MiB));
      await drained(body);
      await eventually(async () => (await t!.leftovers(r)).length > 0);

      expect((await lc.gc({ dryRun: false })).swept).toMatchObject({ uploads: 0, orphans: 0, temporary: 0 });
      expect((await t.leftovers(r)).length).toBeGreaterThan(0);
      clock.advance(DAY + 60_000);
      const swept = (await lc.gc({ dryRun: false })).swept;
      expect(name === 'local' ? swept.temporary : swept.uploads).toBe(1);
      expect(await t.leftovers(r)).toEqual([]);
      ac.abort();
      await stalled;
      expect(await t.store.head(r)).toBeNull();
      // The published ingest, its blob and its bytes, are untouched.
      const handle = await t.store.head(kept);
      expect(handle?.info.size).toBe(6 * MiB);
      expect(await t.leftovers(kept)).toEqual([]);
      let read = 0;
      for await (const c of (await t.store.openRead(handle!)).body) read += (c as Buffer).length;
      expect(read).toBe(6 * MiB);
    } finally {
      await lc.close();
    }
  });
});

describe('sweeping what an S3 ingest can leave behind', () => {
  let t: StoreUnderTest | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('a blob no pointer names (died before publishing) and an ingested pointer whose blob is gone', async () => {
    const clock = testClock();
    t = await DRIVERS.find((d) => d.name === 's3')!.create({ now: clock.now });
    const raw = createS3Client(testConfig({ storage: t.storage }).storage.s3);
    const Bucket = (t.storage.s3 as { bucket: string }).bucket;
    try {
      // The bytes an ingest streams, without metadata, never published.
      const unpublished: ArtifactRef = { space: 'bazel-ac', namespace: 'default', hash: uniqueHash() };
      await raw.send(new PutObjectCommand({ Bucket, Key: blobKey(unpublished, 'ingestdiedbeforepublish'), Body: 'bytes' }));
      // A published ingest whose blob was deleted (a deletion that died half-way).
      const broken = await ingest(t, 'http', 'soon without its blob');
      const blobs = (await raw.send(new ListObjectsV2Command({ Bucket, Prefix: `blobs/http/default/${broken.hash}/` }))).Contents ?? [];
      expect(blobs).toHaveLength(1);
      await raw.send(new DeleteObjectCommand({ Bucket, Key: blobs[0]!.Key }));
      const fine = await ingest(t, 'turbo', 'a published ingest');

      const lc = replica(lifecycleConfig(t, 'redis', { abandonedAfter: '1d', eviction: { interval: 0 } }), t.store, clock);
      expect((await lc.gc({ dryRun: false })).swept).toMatchObject({ orphans: 0 });
      clock.advance(DAY + 60_000);
      const report = await lc.gc({ dryRun: false });
      await lc.close();
      expect(report.swept).toMatchObject({ orphans: 2 });
      expect(await t.leftovers(unpublished)).toEqual([]);
      expect(await t.store.head(broken)).toBeNull();
      expect((await t.store.head(fine))?.info.size).toBe('a published ingest'.length);
    } finally {
      raw.destroy();
    }
  });
});

describe.each(['local', 's3'] as const)('admin purge of an ingested artifact (%s driver)', (driver) => {
  it('DELETE /v1/admin/artifacts/{ns}/{hash}?space=<protocol space> purges it; an unknown space is a 400', async () => {
    const gw = await startGateway({ driver });
    const store =
      driver === 's3'
        ? new S3Driver(testConfig({ storage: { driver: 's3', s3: { endpoint: s3TestEnv().endpoint, bucket: gw.bucket, forcePathStyle: true, integrity: 'md5' } } }).storage.s3)
        : new LocalDriver({ root: gw.localRoot, baseUrl: () => gw.url });
    try {
      const admin = (method: string, path: string) =>
        fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${gw.token}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
      for (const space of ['turbo', 'nx', 'bazel-ac', 'bazel-cas', 'http'] as const) {
        const ref: ArtifactRef = { space, namespace: 'default', hash: uniqueHash() };
        await store.ingest({ ref, maxSize: MAX }, Readable.from([Buffer.from(`${space} bytes`)]));
        expect((await admin('GET', '/v1/admin/stats')).body.namespaces).toContainEqual({ space, namespace: 'default', bytes: `${space} bytes`.length, objects: 1 });
        // The same hash in another space is another key.
        expect((await admin('DELETE', `/v1/admin/artifacts/default/${ref.hash}`)).status).toBe(404);
        expect(await admin('DELETE', `/v1/admin/artifacts/default/${ref.hash}?space=${space}`)).toMatchObject({ status: 200, body: { status: 'purged', space } });
        expect(await store.head(ref)).toBeNull();
        expect((await admin('DELETE', `/v1/admin/artifacts/default/${ref.hash}?space=${space}`)).status).toBe(404);
      }
      expect((await admin('DELETE', `/v1/admin/artifacts/default/${uniqueHash()}?space=uploads`)).status).toBe(400);
      if (driver === 'local') expect(await readdir(join(gw.localRoot, 'tmp'))).toEqual([]);
    } finally {
      await store.close();
      await gw.close();
    }
  });
});
