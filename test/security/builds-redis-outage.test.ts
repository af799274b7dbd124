import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, pollUntilFinal, type Answer } from '../helpers/builds-client.js';
import { startBuildGateway, uniquePrefix, type BuildGateway } from '../helpers/builds-gateway.js';
import { startOwnRedis, type OwnRedis } from '../helpers/builds-security.js';
import { uniqueBucket } from '../helpers/gateway.js';
import { uniqueRequest } from '../fixtures/builds/requests.js';

/**
 * Issue 9, "Also fix": with Redis down, `POST /v1/builds`, `GET /v1/builds/:id` and `/readyz` hung
 * for about 43 s, and `/readyz` then said ready. Against a redis-server of this test's own, stopped
 * (connections refused) and paused (SIGSTOP: connections open, nothing answers), each call must
 * answer 503 `queue_unavailable` with `Retry-After` within VC_REDIS_TIMEOUT and a margin; hits
 * (store only) are still served; and once Redis is back the in-process worker builds again.
 */
const REDIS_TIMEOUT_S = 1;
/** VC_REDIS_TIMEOUT plus the store lookup and scheduling: far below the 43 s it took. */
const ANSWER_WITHIN_MS = REDIS_TIMEOUT_S * 1000 + 1500;

async function timed(fn: (signal: AbortSignal) => Promise<Answer>): Promise<Answer & { ms: number }> {
  const started = performance.now();
  // The client gives up well before the old hang would have ended: a hang fails the test quickly.
  const answer = await fn(AbortSignal.timeout(ANSWER_WITHIN_MS * 3));
  return { ...answer, ms: performance.now() - started };
}

async function request(method: string, url: string, token: string, body: unknown, signal: AbortSignal): Promise<Answer> {
  const res = await fetch(url, {
    method,
    signal,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Polls until `check` holds, for at most `ms` (a bounded wait, no fixed sleep). */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(['stopped', 'paused'] as const)('builds while Redis is %s', (mode) => {
  let redis: OwnRedis;
  let gw: BuildGateway;
  let builtId: string;
  let builtRequest: Record<string, unknown>;

  beforeAll(async () => {
    redis = await startOwnRedis(`outage-${mode}`);
    gw = await startBuildGateway({
      bucket: uniqueBucket(),
      builds: {
        redisUrl: redis.url,
        redisPrefix: uniquePrefix(),
        redisTimeout: REDIS_TIMEOUT_S,
        command: `printf 'rr-binary' > "$VELOCITY_OUTPUT"`,
      },
      inProcessWorker: true,
    });
    builtRequest = uniqueRequest(`outage-built-${mode}`);
    const submitted = await call('POST', `${gw.url}/v1/builds`, gw.token, builtRequest);
    builtId = String(submitted.body.id);
    expect((await pollUntilFinal(gw.url, builtId, gw.token)).body.status).toBe('done');
  }, 60_000);

  afterAll(async () => {
    await redis?.resume().catch(() => undefined);
    await redis?.start().catch(() => undefined);
    await gw?.close();
    await redis?.stop();
  });

  const outage = () => (mode === 'stopped' ? redis.stop() : redis.pause());
  const recover = () => (mode === 'stopped' ? redis.start() : redis.resume());

  it('answers 503 queue_unavailable with Retry-After at once, reports not ready, serves hits, and builds again once Redis is back', async () => {
    expect((await timed((s) => request('GET', `${gw.url}/readyz`, gw.token, undefined, s))).status).toBe(200);
    await outage();
    try {
      const miss = await timed((s) => request('POST', `${gw.url}/v1/builds`, gw.token, uniqueRequest(`outage-miss-${mode}`), s));
      expect(miss).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
      expect(miss.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(miss.ms).toBeLessThan(ANSWER_WITHIN_MS);

      const status = await timed((s) => request('GET', `${gw.url}/v1/builds/${builtId}`, gw.token, undefined, s));
      expect(status).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
      expect(status.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(status.ms).toBeLessThan(ANSWER_WITHIN_MS);

      const ready = await timed((s) => request('GET', `${gw.url}/readyz`, gw.token, undefined, s));
      expect(ready.status).toBe(503);
      expect(ready.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(ready.body.checks).toMatchObject({ storage: 'ok', build_queue: expect.stringMatching(/queue|redis/i) as unknown });
      expect(ready.ms).toBeLessThan(ANSWER_WITHIN_MS);

      // A hit needs the store only: still served.
      const hit = await timed((s) => request('POST', `${gw.url}/v1/builds`, gw.token, builtRequest, s));
      expect(hit).toMatchObject({ status: 200, body: { status: 'found' } });
    } finally {
      await recover();
    }

    await eventually(async () => (await fetch(`${gw.url}/readyz`)).status === 200, 15_000);
    // The in-process worker survived the outage: a new build is taken and finishes.
    const after = await call('POST', `${gw.url}/v1/builds`, gw.token, uniqueRequest(`outage-after-${mode}`));
    expect(after.status).toBe(202);
    expect((await pollUntilFinal(gw.url, String(after.body.id), gw.token, 20_000)).body.status).toBe('done');
  }, 90_000);
});
