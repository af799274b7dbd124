import { afterEach, describe, expect, it } from '@jest/globals';
import type { Lifecycle } from '../../src/lifecycle/create-lifecycle.js';
import { DRIVERS, type StoreUnderTest } from '../contract/drivers.js';
import { hashesIn, lifecycleConfig, replica, testClock, writeArtifact, type TestClock } from './harness.js';

const local = DRIVERS.find((d) => d.name === 'local')!;
const s3 = DRIVERS.find((d) => d.name === 's3')!;

/**
 * A fixed workload with a known access pattern, and the survivors each policy must leave.
 * k0..k5 are written in that order (100 bytes each); then, an hour later:
 *   k0 read 5 times (last at +1 s), k2 3 times (+2 s), k4 twice (+5 s), k1 once (+6 s);
 *   k3 and k5 never.
 * With room for 3: FIFO keeps the newest (k3 k4 k5); LRU drops the never-read k3, k5, then the
 * least recently read k0; LFU drops the never-read k3, k5, then the least read k1.
 */
const HITS: ReadonlyArray<readonly [offsetSeconds: number, hash: string, times: number]> = [
  [0, 'k0', 4],
  [1, 'k0', 1],
  [2, 'k2', 3],
  [5, 'k4', 2],
  [6, 'k1', 1],
];

describe.each([
  ['local', local, 'store'],
  ['s3', s3, 'redis'],
] as const)('eviction order (%s driver, %s statistics and lease)', (_name, driver, backend) => {
  let t: StoreUnderTest | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  async function workload(lifecycle: Record<string, unknown>, ns = 'default'): Promise<{ lc: Lifecycle; clock: TestClock }> {
    const clock = testClock();
    t = await driver.create({ now: clock.now });
    const lc = replica(lifecycleConfig(t, backend, lifecycle), t.store, clock);
    for (let i = 0; i < 6; i++) {
      await writeArtifact(t.store, { namespace: ns, hash: `k${i}` }, `${i}`.repeat(100));
      clock.advance(1000);
    }
    const start = clock.now() + 3600_000;
    for (const [offset, hash, times] of HITS) {
      clock.set(start + offset * 1000);
      for (let n = 0; n < times; n++) lc.access.hit({ namespace: ns, hash });
      // Half the counts reach the shared place before the pass, half are flushed by it.
      if (offset === 2) await lc.flush();
    }
    clock.advance(10_000);
    return { lc, clock };
  }

  it.each([
    ['fifo', ['k3', 'k4', 'k5']],
    ['lru', ['k1', 'k2', 'k4']],
    ['lfu', ['k0', 'k2', 'k4']],
  ])('%s down to max entries keeps %j', async (policy, survivors) => {
    const { lc } = await workload({ eviction: { policy, maxEntries: 3 } });
    const report = await lc.gc({ dryRun: false });
    await lc.close();
    expect(report).toMatchObject({ deleted: 3, freed_bytes: 300, kept: 3, dry_run: false, complete: true });
    expect(await hashesIn(t!.store)).toEqual(survivors);
  });

  it('lru down to max bytes, and a dry run first that deletes nothing', async () => {
    const { lc } = await workload({ eviction: { policy: 'lru', maxBytes: '350B' } });
    const dry = await lc.gc({ dryRun: true });
    expect(dry).toMatchObject({ deleted: 3, dry_run: true, kept: 3 });
    expect(dry.items?.map((i) => [i.hash, i.reason])).toEqual([['k3', 'size'], ['k5', 'size'], ['k0', 'size']]);
    expect(await hashesIn(t!.store)).toHaveLength(6);
    expect(await lc.gc({ dryRun: false })).toMatchObject({ deleted: 3, kept: 3, kept_bytes: 300 });
    await lc.close();
    expect(await hashesIn(t!.store)).toEqual(['k1', 'k2', 'k4']);
  });

  it('max age: nothing before the limit, everything past it', async () => {
    const { lc, clock } = await workload({ eviction: { maxAge: '2h' } });
    expect((await lc.gc({ dryRun: false })).deleted).toBe(0);
    clock.advance(3 * 3600_000);
    const report = await lc.gc({ dryRun: false });
    await lc.close();
    expect(report).toMatchObject({ deleted: 6, kept: 0 });
    expect(await hashesIn(t!.store)).toEqual([]);
  });

  it('per-namespace limits hold beside the store-wide ones', async () => {
    const { lc } = await workload({ eviction: { policy: 'lfu', namespaces: { small: { maxEntries: 2 } } } }, 'small');
    await writeArtifact(t!.store, { namespace: 'other', hash: 'x1' }, 'x');
    await writeArtifact(t!.store, { namespace: 'other', hash: 'x2' }, 'y');
    const report = await lc.gc({ dryRun: false });
    await lc.close();
    expect(report.deleted).toBe(4);
    expect(await hashesIn(t!.store, 'small')).toEqual(['k0', 'k2']);
    expect(await hashesIn(t!.store, 'other')).toEqual(['x1', 'x2']);
  });
});
