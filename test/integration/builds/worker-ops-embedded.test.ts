import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { Builder } from '../../../src/builds/builders/builder.js';
import { SlotPool } from '../../../src/builds/slot-pool.js';
import { call } from '../../helpers/builds-client.js';
import { startBuildGateway } from '../../helpers/builds-gateway.js';
import { uniqueBucket } from '../../helpers/gateway.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * The embedded gateway's in-process worker on SIGTERM, and the slot pool between its minimum and
 * maximum. Ceph RGW for the gateway; the builds are a real build command.
 */
describe('the embedded gateway stopping', () => {
  it('returns within the shutdown grace and hands the running build back, whatever VC_BUILD_TIMEOUT says', async () => {
    const gw = await startBuildGateway({
      bucket: uniqueBucket(),
      builds: { command: 'sleep 60; printf x > "$VELOCITY_OUTPUT"', workDir: join(tmpdir(), `vc-ops-${randomUUID()}`), buildTimeout: 600 },
    });
    const submitted = await call('POST', `${gw.url}/v1/builds`, gw.token, uniqueRequest(`ops-embedded-${randomUUID()}`));
    const id = String(submitted.body.id);
    const deadline = Date.now() + 10_000;
    while ((await gw.runtime.queue.get(id))?.state !== 'building') {
      if (Date.now() > deadline) throw new Error('the build did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
    const started = Date.now();
    await gw.gateway.close(500);
    expect(Date.now() - started).toBeLessThan(3000);
    // Back in the queue (the process's own: nothing survives an embedded restart), not failed.
    expect((await gw.runtime.queue.get(id))?.state).toBe('queued');
  });
});

describe('build slots', () => {
  function fakeBuilders(): { factory: () => Builder; closed: () => number } {
    let closed = 0;
    const factory = (): Builder => ({
      kind: 'command',
      build: () => Promise.reject(new Error('not used')),
      close: () => {
        closed++;
        return Promise.resolve();
      },
    });
    return { factory, closed: () => closed };
  }

  it('start at the minimum, grow to the maximum on demand, and retire idle extras back to the minimum', async () => {
    const builders = fakeBuilders();
    const pool = new SlotPool({ min: 1, max: 3, recycleAfter: 0, idleMs: 100 }, builders.factory, pino({ level: 'silent' }));
    expect(pool.stats()).toMatchObject({ busy: 0, idle: 1 });
    const slots = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    expect(pool.stats()).toMatchObject({ busy: 3, idle: 0 });
    // A fourth waits for a free slot: never more than the maximum.
    let fourth = false;
    const waiting = pool.acquire().then((s) => {
      fourth = true;
      return s;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(fourth).toBe(false);
    expect(pool.stats().waiting).toBe(1);
    await pool.release(slots[0]);
    await pool.release(await waiting);
    await pool.release(slots[1]);
    await pool.release(slots[2]);
    expect(pool.stats()).toMatchObject({ busy: 0, idle: 3, buildsDone: 4 });
    await new Promise((r) => setTimeout(r, 250));
    expect(pool.stats()).toMatchObject({ busy: 0, idle: 1, retired: 2 });
    expect(builders.closed()).toBe(2);
    await pool.close();
  });

  it('count recycling in the stats', async () => {
    const builders = fakeBuilders();
    const pool = new SlotPool({ min: 1, max: 1, recycleAfter: 2, idleMs: 1000 }, builders.factory, pino({ level: 'silent' }));
    for (let i = 0; i < 4; i++) await pool.release(await pool.acquire());
    expect(pool.stats()).toMatchObject({ buildsDone: 4, recycled: 2, retired: 0 });
    expect(builders.closed()).toBe(2);
    await pool.close();
  });
});
