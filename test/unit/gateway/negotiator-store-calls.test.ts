import { describe, expect, it, jest } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Principal } from '../../../src/auth/principal.js';
import { KnownKeys } from '../../../src/cache/known-keys.js';
import { Negotiator } from '../../../src/cache/negotiator.js';
import { RecentMisses } from '../../../src/cache/recent-misses.js';
import { ClientClosedRequestError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/metrics/create-metrics.js';
import { StorageUnavailableError } from '../../../src/storage/errors.js';
import type { ArtifactHandle, StorageDriver } from '../../../src/storage/driver.js';
import { LocalDriver } from '../../../src/storage/local/local-driver.js';

/** Which negotiations ask the store, counted on the real local driver. */
const ci: Principal = { subject: 'ci', scopes: new Set(['cache:read', 'cache:write']), namespaces: '*' };

async function setup(opts: { ttlSeconds?: number } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'velocity-negotiator-'));
  const driver = new LocalDriver({ root, baseUrl: () => 'http://127.0.0.1:1' });
  await driver.init();
  let clock = 1_000_000;
  const now = () => clock;
  const metrics = createMetrics({ processMetrics: false });
  const negotiator = new Negotiator({
    driver,
    knownKeys: new KnownKeys({ max: 1000, ttlMs: 60_000, now }),
    recentMisses: new RecentMisses(1000, opts.ttlSeconds ?? 900, now),
    metrics,
    presignTtl: 900,
    maxArtifactSize: 1 << 30,
    multipartThreshold: 64 << 20,
  });
  // Another replica's driver on the same store: its writes are not counted as this one's lookups.
  const other = new LocalDriver({ root, baseUrl: () => 'http://127.0.0.1:1' });
  const heads = jest.spyOn(driver as StorageDriver, 'head');
  const body = randomBytes(100);
  const digest = { size: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  return {
    negotiator, heads,
    storeElsewhere: (hash: string) => other.write({ ref: { namespace: 'default', hash }, ...digest }, Readable.from([body])), metrics, body, digest,
    advance: (ms: number) => void (clock += ms),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

describe('negotiator: store calls', () => {
  it('asks the store once for a download miss followed by the upload of the same key', async () => {
    const t = await setup();
    try {
      expect(await t.negotiator.negotiate(ci, { hash: 'k1', action: 'download' })).toEqual({ status: 'missing' });
      expect(t.heads).toHaveBeenCalledTimes(1);
      const up = await t.negotiator.negotiate(ci, { hash: 'k1', action: 'upload', ...t.digest });
      expect(up.status).toBe('upload_needed');
      expect(t.heads).toHaveBeenCalledTimes(1);
      // The first offer took the remembered miss: a second job uploading the key is asked about
      // again, and once the first upload has landed it is told to skip.
      await t.storeElsewhere('k1');
      expect((await t.negotiator.negotiate(ci, { hash: 'k1', action: 'upload', ...t.digest })).status).toBe('skipped');
      expect(t.heads).toHaveBeenCalledTimes(2);
      // Another namespace is another key: it is looked up.
      await t.negotiator.negotiate(ci, { hash: 'k1', namespace: 'other', action: 'upload', ...t.digest });
      expect(t.heads).toHaveBeenCalledTimes(3);
    } finally {
      await t.cleanup();
    }
  });

  it('looks up a cold upload (and does not remember its miss: the upload follows), and answers skipped when the key exists', async () => {
    const t = await setup();
    try {
      expect((await t.negotiator.negotiate(ci, { hash: 'k2', action: 'upload', ...t.digest })).status).toBe('upload_needed');
      await t.storeElsewhere('k2');
      expect((await t.negotiator.negotiate(ci, { hash: 'k2', action: 'upload', ...t.digest })).status).toBe('skipped');
      expect(t.heads).toHaveBeenCalledTimes(2);
      const text = await t.metrics.registry.getSingleMetricAsString('vc_uploads_skipped_total');
      expect(text).toMatch(/vc_uploads_skipped_total 1/);
    } finally {
      await t.cleanup();
    }
  });

  it('never answers a download from a remembered miss, and forgets misses after their TTL', async () => {
    const t = await setup({ ttlSeconds: 60 });
    try {
      await t.negotiator.negotiate(ci, { hash: 'k3', action: 'download' });
      await t.storeElsewhere('k3');
      const down = await t.negotiator.negotiate(ci, { hash: 'k3', action: 'download' });
      expect(down).toMatchObject({ status: 'found', sha256: t.digest.sha256 });
      expect(t.heads).toHaveBeenCalledTimes(2);

      await t.negotiator.negotiate(ci, { hash: 'k4', action: 'download' });
      t.advance(61_000);
      await t.storeElsewhere('k4');
      // The miss is too old to trust: the store is asked again, and says the key exists.
      expect((await t.negotiator.negotiate(ci, { hash: 'k4', action: 'upload', ...t.digest })).status).toBe('skipped');
      expect(t.heads).toHaveBeenCalledTimes(4);
    } finally {
      await t.cleanup();
    }
  });

  it('a store call cut short by the client leaving is not a storage error', async () => {
    const t = await setup();
    try {
      const controller = new AbortController();
      t.heads.mockImplementation((_ref: unknown, signal?: AbortSignal) => new Promise<ArtifactHandle | null>((_resolve, reject) => {
        // What the S3 driver's HEAD does when its request is aborted: the reason, not an outage.
        signal?.addEventListener('abort', () => reject(signal.reason as Error));
      }));
      const pending = t.negotiator.negotiate(ci, { hash: 'k5', action: 'download' }, () => controller.signal);
      controller.abort(new ClientClosedRequestError());
      await expect(pending).rejects.toBeInstanceOf(ClientClosedRequestError);

      // Even a driver that wraps the abort as a store error is not counted once the client has gone.
      const second = new AbortController();
      t.heads.mockImplementation((_ref: unknown, signal?: AbortSignal) => new Promise<ArtifactHandle | null>((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(new StorageUnavailableError('aborted')));
      }));
      const wrapped = t.negotiator.negotiate(ci, { hash: 'k6', action: 'download' }, () => second.signal);
      second.abort(new ClientClosedRequestError());
      await expect(wrapped).rejects.toBeInstanceOf(ClientClosedRequestError);
      expect(await t.metrics.registry.getSingleMetricAsString('vc_storage_errors_total')).not.toMatch(/operation="negotiate"\} [1-9]/);

      // A real outage still is one: a single negotiation's reaches the HTTP error boundary, which
      // counts it (storage-outage.test.ts); a batch item's is counted here, where it is answered.
      t.heads.mockRejectedValue(new StorageUnavailableError('down'));
      await expect(t.negotiator.negotiate(ci, { hash: 'k7', action: 'download' })).rejects.toBeInstanceOf(StorageUnavailableError);
      const [item] = await t.negotiator.batch(ci, [{ hash: 'k8', action: 'download' }]);
      expect(item).toMatchObject({ status: 'error', code: 'storage_unavailable' });
      expect(await t.metrics.registry.getSingleMetricAsString('vc_storage_errors_total')).toMatch(/operation="negotiate"\} 1/);
    } finally {
      await t.cleanup();
    }
  });
});
