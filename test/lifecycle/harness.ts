import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createLifecycle, type Lifecycle } from '../../src/lifecycle/create-lifecycle.js';
import type { ArtifactRef, StorageDriver } from '../../src/storage/driver.js';
import { artifact } from '../helpers/artifacts.js';
import { testConfig } from '../helpers/gateway.js';
import type { StoreUnderTest } from '../contract/drivers.js';

/** A clock the test moves by hand: every replica of a test shares one. */
export interface TestClock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let t = start;
  return { now: () => t, set: (ms) => void (t = ms), advance: (ms) => void (t += ms) };
}

export type Backend = 'redis' | 'store';

export function redisUrl(): string {
  const url = process.env.VC_TEST_REDIS_URL;
  if (!url) throw new Error('VC_TEST_REDIS_URL is not set: the jest globalSetup starts redis-server');
  return url;
}

/** Config (YAML shape) for lifecycle tests: Redis or not, and a fresh Redis key prefix per test. */
export function lifecycleConfig(t: StoreUnderTest, backend: Backend, lifecycle: Record<string, unknown>, prefix = `t${randomBytes(4).toString('hex')}`) {
  return testConfig({
    logLevel: 'silent',
    storage: t.storage,
    lifecycle,
    builds: backend === 'redis' ? { redisUrl: redisUrl(), redisPrefix: prefix } : {},
  });
}

export function replica(config: ReturnType<typeof testConfig>, store: StorageDriver, clock: TestClock): Lifecycle {
  return createLifecycle({ config, store, registry: new Registry(), logger: pino({ level: 'silent' }), forget: () => undefined, now: clock.now });
}

export async function writeArtifact(store: StorageDriver, ref: ArtifactRef, body: string | Buffer): Promise<void> {
  const a = artifact(body);
  const result = await store.write({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, Readable.from([a.body]));
  if (result !== 'created') throw new Error(`${ref.hash} already existed`);
}

export async function hashesIn(store: StorageDriver, namespace = 'default'): Promise<string[]> {
  return (await store.list({ space: 'artifacts', namespace })).items.map((i) => i.ref.hash);
}
