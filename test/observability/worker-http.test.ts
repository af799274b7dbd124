import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { startWorkerHttp, type WorkerReadinessCheck } from '../../src/builds/worker-http.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createMetrics } from '../../src/metrics/create-metrics.js';
import { scrapeAuth } from '../../src/metrics/scrape-auth.js';

const TOKEN = 'worker-metrics-token-0123456789';

async function server(checks: WorkerReadinessCheck[], draining = () => false) {
  const metrics = createMetrics({ program: 'velocity-worker', processMetrics: false });
  return startWorkerHttp(
    {
      registry: metrics.registry,
      auth: scrapeAuth(TOKEN),
      checks,
      draining,
      logger: pino({ level: 'silent' }),
      checkTimeoutMs: 300,
      stats: () => ({ busy: 1, buildsDone: 3, recycled: 0 }),
    },
    { host: '127.0.0.1', port: 0 },
  );
}

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe("velocity-worker's HTTP server", () => {
  it('/healthz answers, /readyz reports each check, /metrics needs the token', async () => {
    const http = await server([{ name: 'redis', check: () => Promise.resolve() }]);
    try {
      expect(http.port).toBeGreaterThan(0);
      expect(await get(`${http.url}/healthz`)).toMatchObject({ status: 200 });
      const ready = await get(`${http.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.text)).toEqual({ status: 'ready', checks: { redis: 'ok' } });

      const denied = await get(`${http.url}/metrics`);
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toBe('Bearer');
      expect(denied.text).not.toContain('vc_');
      expect((await get(`${http.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const metrics = await get(`${http.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(metrics.text).toContain('vc_builds_total{result="failure"} 0');
      expect(metrics.text).toContain('program="velocity-worker"');

      expect((await get(`${http.url}/metrics`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } })).text).toBe('');
      // /stats: behind the same token as /metrics.
      expect((await get(`${http.url}/stats`)).status).toBe(401);
      const stats = await get(`${http.url}/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(stats.status).toBe(200);
      expect(JSON.parse(stats.text)).toEqual({ draining: false, busy: 1, buildsDone: 3, recycled: 0 });
      const post = await get(`${http.url}/healthz`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      expect((await get(`${http.url}/v1/builds`)).status).toBe(404);
    } finally {
      await http.close();
    }
    await expect(fetch(`${http.url}/healthz`)).rejects.toThrow();
  });

  it('/readyz is 503 when a check fails or hangs, without the failure text (it may name a Redis address)', async () => {
    const http = await server([
      { name: 'redis', check: () => Promise.reject(new Error('connect ECONNREFUSED 10.9.8.7:6379')) },
      { name: 'builder', check: () => Promise.resolve() },
      { name: 'stuck', check: () => new Promise<void>(() => undefined) },
    ]);
    try {
      const started = performance.now();
      const ready = await get(`${http.url}/readyz`);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(ready.status).toBe(503);
      expect(ready.headers.get('retry-after')).toBe('5');
      expect(JSON.parse(ready.text)).toEqual({ status: 'unavailable', checks: { redis: 'unavailable', builder: 'ok', stuck: 'unavailable' } });
      expect(ready.text).not.toContain('10.9.8.7');
      expect((await get(`${http.url}/healthz`)).status).toBe(200);
    } finally {
      await http.close();
    }
  });

  it('/readyz is 503 while draining, and /metrics still answers', async () => {
    let draining = false;
    const http = await server([{ name: 'redis', check: () => Promise.resolve() }], () => draining);
    try {
      expect((await get(`${http.url}/readyz`)).status).toBe(200);
      draining = true;
      const ready = await get(`${http.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.text)).toEqual({ status: 'draining' });
      expect((await get(`${http.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await http.close();
    }
  });
});

describe('VC_WORKER_PORT and VC_METRICS_TOKEN', () => {
  it('default to 9091 and no token; read from the environment', async () => {
    const defaults = await loadConfig({ env: {} });
    expect(defaults.builds.workerPort).toBe(9091);
    expect(defaults.metrics.token).toBeUndefined();
    const set = await loadConfig({ env: { VC_WORKER_PORT: '0', VC_METRICS_TOKEN: TOKEN } });
    expect(set.builds.workerPort).toBe(0);
    expect(set.metrics.token).toBe(TOKEN);
  });

  it('reject a port out of range and a short token, naming the variables', async () => {
    const err = await loadConfig({ env: { VC_WORKER_PORT: '70000', VC_METRICS_TOKEN: 'short' } }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('VC_WORKER_PORT');
    expect((err as Error).message).toContain('VC_METRICS_TOKEN');
  });
});
