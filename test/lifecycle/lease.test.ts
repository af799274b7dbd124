import { afterEach, describe, expect, it } from '@jest/globals';
import type { ListQuery, StorageDriver } from '../../src/storage/driver.js';
import { GcBusyError } from '../../src/lifecycle/gc-pass.js';
import { DRIVERS, type StoreUnderTest } from '../contract/drivers.js';
import { hashesIn, lifecycleConfig, replica, testClock, writeArtifact, type Backend } from './harness.js';

/** A promise the test resolves by hand, and one that says when it was reached. */
function gate(): { wait: Promise<void>; open: () => void; reached: Promise<void>; reach: () => void } {
  let open!: () => void;
  let reach!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (reach = r));
  return { wait, open, reached, reach };
}

/** The store as one replica sees it, with its listing or its deletes held at a gate. */
function held(store: StorageDriver, at: 'list' | 'delete', g: ReturnType<typeof gate>): StorageDriver {
  return {
    ...store,
    name: store.name,
    capabilities: store.capabilities,
    head: (r, s) => store.head(r, s),
    openRead: (h, r, s) => store.openRead(h, r, s),
    write: (i, b, s) => store.write(i, b, s),
    init: (s) => store.init(s),
    ping: (s) => store.ping(s),
    close: () => store.close(),
    list: async (q: ListQuery, s) => {
      if (at === 'list') {
        g.reach();
        await g.wait;
      }
      return store.list(q, s);
    },
    // A replica killed mid-pass: its delete never happens and it never renews or releases.
    delete: async (targets, s) => {
      if (at !== 'delete') return store.delete(targets, s);
      g.reach();
      await g.wait;
    },
  };
}

describe.each([
  ['local', 'store'],
  ['local', 'redis'],
  ['s3', 'store'],
  ['s3', 'redis'],
] as const)('one pass at a time (%s driver, %s lease)', (driverName, backend: Backend) => {
  const driver = DRIVERS.find((d) => d.name === driverName)!;
  let t: StoreUnderTest | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  async function setup() {
    const clock = testClock();
    t = await driver.create({ now: clock.now });
    const config = lifecycleConfig(t, backend, { eviction: { policy: 'fifo', maxEntries: 2, leaseTtl: 30 } });
    for (let i = 0; i < 5; i++) {
      await writeArtifact(t.store, { namespace: 'default', hash: `k${i}` }, `artifact ${i}`);
      clock.advance(1000);
    }
    return { clock, config, t };
  }

  it('two replicas running a pass at once: the second is refused while the first holds the lease', async () => {
    const { clock, config, t } = await setup();
    const g = gate();
    const a = replica(config, held(t.store, 'list', g), clock);
    const b = replica(config, t.another(clock.now), clock);
    const first = a.gc({ dryRun: false });
    await g.reached;
    await expect(b.gc({ dryRun: false })).rejects.toBeInstanceOf(GcBusyError);
    g.open();
    expect(await first).toMatchObject({ deleted: 3, kept: 2, complete: true });
    // Released: the next pass runs, and finds nothing left to delete.
    expect(await b.gc({ dryRun: false })).toMatchObject({ deleted: 0, kept: 2 });
    await Promise.all([a.close(), b.close()]);
    expect(await hashesIn(t.store)).toEqual(['k3', 'k4']);
  });

  it('a replica killed mid-pass: its lease lapses after the TTL and another replica completes the pass', async () => {
    const { clock, config, t } = await setup();
    const g = gate();
    const dead = replica(config, held(t.store, 'delete', g), clock);
    const b = replica(config, t.another(clock.now), clock);
    const deadPass = dead.gc({ dryRun: false });
    await g.reached;
    await expect(b.gc({ dryRun: false })).rejects.toBeInstanceOf(GcBusyError);
    clock.advance(29_000);
    await expect(b.gc({ dryRun: false })).rejects.toBeInstanceOf(GcBusyError);
    clock.advance(2_000);
    expect(await b.gc({ dryRun: false })).toMatchObject({ deleted: 3, kept: 2, complete: true });
    expect(await hashesIn(t.store)).toEqual(['k3', 'k4']);
    // The "dead" holder wakes up: it cannot renew a lease another replica took, so it stops.
    g.open();
    expect(await deadPass).toMatchObject({ complete: false });
    await Promise.all([dead.close(), b.close()]);
  });
});
