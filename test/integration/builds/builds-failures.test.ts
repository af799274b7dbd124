import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { call, pollUntilFinal } from '../../helpers/builds-client.js';
import { redisTestUrl, startBuildGateway, uniquePrefix, type BuildGateway } from '../../helpers/builds-gateway.js';
import { startVeloxStandIn, VELOX_FAILURES, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { uniqueBucket } from '../../helpers/gateway.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * Failures, retries, backpressure, queue timeout and cancellation on the real Redis (BullMQ) and
 * Ceph RGW. Velox needs Go and the internet, so the Velox builder talks to a stand-in speaking
 * Velox's Connect JSON wire format and following its server.go (test/helpers/builds-velox-stand-in.ts).
 */
const T1 = `token-${randomUUID()}`;
const T2 = `token-${randomUUID()}`;
let gw: BuildGateway | undefined;
let velox: VeloxStandIn | undefined;
afterEach(async () => {
  await gw?.close();
  await velox?.close();
  gw = undefined;
  velox = undefined;
});

async function gateway(builds: Record<string, unknown>, inProcessWorker = true): Promise<BuildGateway> {
  gw = await startBuildGateway({
    bucket: uniqueBucket(),
    builds: { redisUrl: redisTestUrl(), redisPrefix: uniquePrefix(), ...builds },
    tokens: [T1, T2],
    inProcessWorker,
  });
  return gw;
}

async function standIn(delayMs = 100): Promise<VeloxStandIn> {
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), delayMs });
  return velox;
}

describe('builder failures (Redis + RGW)', () => {
  it('a failed build shows its error and stderr tail, and is not retried', async () => {
    const count = join(tmpdir(), `vc-count-${randomUUID()}`);
    const g = await gateway({
      command: `echo run >> "${count}"; echo "go: downloading github.com/roadrunner-server/http/v5"; echo "plugin.go:7: undefined: Serve" >&2; exit 1`,
      maxAttempts: 3,
    });
    const submitted = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('cmd-fail'));
    const final = await pollUntilFinal(g.url, String(submitted.body.id), T1);
    expect(final.body).toMatchObject({
      status: 'failed',
      error: 'build command exited with status 1: plugin.go:7: undefined: Serve',
    });
    expect(final.body.logs_tail).toEqual(expect.arrayContaining(['plugin.go:7: undefined: Serve']));
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(count, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(final.body.url).toBeUndefined();
  });

  it('transient Velox failures (503, a proxy\'s bare 502) retry with exponential backoff', async () => {
    const v = await standIn();
    v.options.failures = [
      { code: 'unavailable', message: 'velox is restarting' },
      { status: 502, text: '<html>bad gateway</html>' },
    ];
    const g = await gateway({ veloxUrl: v.url, maxAttempts: 4, initialDelay: 300, backoffMultiplier: 2 });
    const submitted = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('transient'));
    const final = await pollUntilFinal(g.url, String(submitted.body.id), T1);
    expect(final.body.status).toBe('done');
    expect(v.calls).toHaveLength(3);
    const [c1, c2, c3] = v.calls.map((c) => c.at) as [number, number, number];
    expect(c2 - c1).toBeGreaterThanOrEqual(280);
    expect(c3 - c2).toBeGreaterThanOrEqual(580);
  });

  it('a failed Velox build (internal, as Velox reports every build failure) is not retried and shows the message', async () => {
    const v = await standIn();
    v.options.failures = [VELOX_FAILURES.goModTidy('github.com/x/y@v9.9.9: invalid version: unknown revision v9.9.9')];
    const g = await gateway({ veloxUrl: v.url, maxAttempts: 4 });
    const submitted = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('permanent'));
    const final = await pollUntilFinal(g.url, String(submitted.body.id), T1);
    expect(final.body).toMatchObject({ status: 'failed', error: 'Velox: internal: building plugins: go mod tidy: go failed: exit status 1' });
    expect(final.body.logs_tail).toContain('go: github.com/x/y@v9.9.9: invalid version: unknown revision v9.9.9');
    await new Promise((r) => setTimeout(r, 300));
    expect(v.calls).toHaveLength(1);
  });
});

describe('queue limits (Redis)', () => {
  it('queue full answers 503 with Retry-After; identical requests still join', async () => {
    // A builder is configured, but no worker runs: builds stay queued.
    const g = await gateway({ command: 'true', maxQueue: 1 }, false);
    const first = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('full-1'));
    expect(first.status).toBe(202);
    const second = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('full-2'));
    expect(second.status).toBe(503);
    expect(second.body.code).toBe('queue_full');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    const join = await call('POST', `${g.url}/v1/builds`, T2, uniqueRequest('full-1'));
    expect(join.status).toBe(202);
    expect(join.body.id).toBe(first.body.id);
  });

  it('a build that waits past VC_BUILD_QUEUE_TIMEOUT fails with a clear error', async () => {
    const g = await gateway({ command: 'true', queueTimeout: 1 }, false);
    const submitted = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('qtimeout'));
    const final = await pollUntilFinal(g.url, String(submitted.body.id), T1, 10_000);
    expect(final.body.status).toBe('failed');
    expect(String(final.body.error)).toMatch(/longer than the queue timeout \(VC_BUILD_QUEUE_TIMEOUT=1 s\)/);
    expect(await g.runtime.queue.depth()).toBe(0);
  });

  it('answers 503 no_builder with a how-to when no builder is configured and no worker runs', async () => {
    const g = await gateway({}, false);
    const answer = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('no-builder'));
    expect(answer.status).toBe(503);
    expect(answer.body.code).toBe('no_builder');
    expect(String(answer.body.message)).toContain('VC_VELOX_URL');
  });
});

describe('DELETE /v1/builds/{id} (Redis)', () => {
  it('cancels a running build only when the last waiter stops waiting', async () => {
    const g = await gateway({ command: 'sleep 30; printf x > "$VELOCITY_OUTPUT"' });
    const a = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('cancel'));
    const b = await call('POST', `${g.url}/v1/builds`, T2, uniqueRequest('cancel'));
    expect(b.body.id).toBe(a.body.id);
    const id = String(a.body.id);
    const deadline = Date.now() + 10_000;
    while ((await call('GET', `${g.url}/v1/builds/${id}`, T1)).body.status !== 'building') {
      if (Date.now() > deadline) throw new Error('build did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    const left = await call('DELETE', `${g.url}/v1/builds/${id}`, T1);
    expect(left.body).toMatchObject({ status: 'building', waiters: 1 });
    const last = await call('DELETE', `${g.url}/v1/builds/${id}`, T2);
    expect(last.body.waiters).toBe(0);
    const final = await pollUntilFinal(g.url, id, T1, 5000);
    expect(final.body.status).toBe('cancelled');
    // The worker really stopped: its slot is free for the next build.
    const next = await call('POST', `${g.url}/v1/builds`, T1, uniqueRequest('cancel'));
    expect(next.body.id).not.toBe(id);
    expect((await call('DELETE', `${g.url}/v1/builds/${String(next.body.id)}`, T1)).body.waiters).toBe(0);
  });
});
