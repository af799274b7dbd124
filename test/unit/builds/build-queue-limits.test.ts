import { afterEach, describe, expect, it } from '@jest/globals';
import { harness, principal, type Harness } from '../../helpers/builds-harness.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';
import { ServiceUnavailableError } from '../../../src/errors.js';
import { retryDelay } from '../../../src/builds/build-failure.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const alice = principal('alice');
const bob = principal('bob');
const idOf = (a: { status: string }) => (a as unknown as { id: string }).id;

describe('waiters and cancellation', () => {
  it('cancels a running build only when the last waiter leaves, and kills it', async () => {
    h = await harness({ command: 'sleep 30; printf x > "$VELOCITY_OUTPUT"' });
    const id = idOf(await h.service.submit(uniqueRequest('cancel'), alice));
    expect(idOf(await h.service.submit(uniqueRequest('cancel'), bob))).toBe(id);
    await new Promise((r) => setTimeout(r, 200));
    expect((await h.service.status(id, alice)).status).toBe('building');

    const first = await h.service.leave(id, alice);
    expect(first).toMatchObject({ status: 'building', waiters: 1 });
    // Leaving twice does not count twice.
    expect(await h.service.leave(id, alice)).toMatchObject({ status: 'building', waiters: 1 });

    const started = Date.now();
    await h.service.leave(id, bob);
    const final = await h.finish(id, 5000);
    expect(final.state).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('cancels a queued build at once when nobody waits', async () => {
    h = await harness({ command: 'printf x > "$VELOCITY_OUTPUT"' }, { worker: false });
    // A builder is configured but no worker runs here: the build stays queued.
    const id = idOf(await h.service.submit(uniqueRequest('queued-cancel'), alice)).toString();
    expect(await h.service.leave(id, alice)).toMatchObject({ status: 'cancelled', waiters: 0 });
    expect(await h.queue.depth()).toBe(0);
    // A new request after a cancellation starts a new build.
    expect(idOf(await h.service.submit(uniqueRequest('queued-cancel'), alice))).not.toBe(id);
  });
});

describe('backpressure and queue timeout', () => {
  it('answers 503 with Retry-After beyond VC_BUILD_MAX_QUEUE, but lets identical requests join', async () => {
    h = await harness({ command: 'sleep 30', maxQueue: 2 }, { worker: false });
    const a = idOf(await h.service.submit(uniqueRequest('full-a'), alice));
    await h.service.submit(uniqueRequest('full-b'), alice);
    const err = (await h.service.submit(uniqueRequest('full-c'), alice).catch((e: unknown) => e)) as ServiceUnavailableError;
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err.code).toBe('queue_full');
    expect(Number(err.headers['Retry-After'])).toBeGreaterThan(0);
    expect(idOf(await h.service.submit(uniqueRequest('full-a'), bob))).toBe(a);
    expect(await h.queue.depth()).toBe(2);
  });

  it('fails a build that waited past VC_BUILD_QUEUE_TIMEOUT, clearly', async () => {
    h = await harness({ command: 'printf x > "$VELOCITY_OUTPUT"', queueTimeout: 1 }, { worker: false });
    const id = idOf(await h.service.submit(uniqueRequest('qtimeout'), alice));
    const final = await h.finish(id, 5000);
    expect(final.state).toBe('failed');
    expect(final.error).toMatch(/waited \d+ s in the queue, longer than the queue timeout \(VC_BUILD_QUEUE_TIMEOUT=1 s\)/);
  });

  it('a worker refuses a build it takes after the queue timeout', async () => {
    // One slot, busy for 1.5 s: the second build waits past its 1 s limit.
    h = await harness({ command: 'sleep 1.5; printf x > "$VELOCITY_OUTPUT"', concurrency: 1, queueTimeout: 1 });
    h.service.stop(); // only the worker's own check
    const first = idOf(await h.service.submit(uniqueRequest('busy'), alice));
    const second = idOf(await h.service.submit(uniqueRequest('late'), alice));
    expect((await h.finish(first)).state).toBe('done');
    const late = await h.finish(second);
    expect(late.state).toBe('failed');
    expect(late.error).toContain('VC_BUILD_QUEUE_TIMEOUT');
  });
});

describe('worker slots', () => {
  it('never runs more builds than its concurrency, and recycles slots after N builds', async () => {
    h = await harness({
      command: 'n=$(ls -d "$(dirname "$(dirname "$VELOCITY_OUTPUT")")"/velocity-build-* | wc -l); echo "running=$n"; sleep 0.2; printf x > "$VELOCITY_OUTPUT"',
      concurrency: 2,
      recycleAfter: 2,
    });
    const ids = await Promise.all(['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map(async (t) => idOf(await h!.service.submit(uniqueRequest(t), alice))));
    const finals = await Promise.all(ids.map((id) => h!.finish(id)));
    expect(finals.every((f) => f.state === 'done')).toBe(true);
    // Each build printed how many build directories existed while it ran: never more than 2.
    const seen = finals.map((f) => Number(/running=\s*(\d+)/.exec(f.logsTail.join('\n'))?.[1]));
    expect(seen.every((n) => n >= 1)).toBe(true);
    expect(Math.max(...seen)).toBeLessThanOrEqual(2);
    const stats = h.worker?.stats().slots ?? [];
    // 6 builds over 2 slots, recycled every 2 builds: every build is accounted for, >= 2 recycles.
    expect(stats.reduce((n, s) => n + s.recycled * 2 + s.builds, 0)).toBe(6);
    expect(stats.reduce((n, s) => n + s.recycled, 0)).toBeGreaterThanOrEqual(2);
  });

  it('computes backoff as initial * multiplier^(n-1), capped at max_delay', () => {
    const policy = { maxAttempts: 10, initialDelay: 1000, maxDelay: 30_000, backoffMultiplier: 2 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelay(policy, n))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
});
