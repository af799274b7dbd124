import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseBuildRequest } from '../../../src/builds/build-request-schema.js';
import { buildKey, canonicalRequest } from '../../../src/builds/canonical-request.js';
import { downloadSha256 } from '../../helpers/builds-client.js';
import { redisTestUrl, startBuildGateway, uniquePrefix, type BuildGateway } from '../../helpers/builds-gateway.js';
import { standInBinary, startVeloxStandIn, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { uniqueBucket } from '../../helpers/gateway.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * Proxy mode: the gateway reverse-proxies an application (here a small node:http upstream standing
 * in for a PHP app behind RoadRunner) and intercepts its `X-Velox-Build: true` answers. Real Redis
 * and Ceph RGW; Velox needs Go and the internet, so the builder is a stand-in speaking Velox's
 * Connect JSON wire format (test/helpers/builds-velox-stand-in.ts).
 */
let upstream: Server;
let upstreamUrl: string;
/** When the upstream finished sending each intercepted answer (ms epoch), by path. */
const upstreamDone = new Map<string, number>();
const buildBodies = new Map<string, Record<string, unknown>>();
let velox: VeloxStandIn;
let proxy: BuildGateway;
let impatient: BuildGateway;
let workerGw: BuildGateway;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const build = buildBodies.get(path);
      if (build) {
        res.on('finish', () => upstreamDone.set(path, Date.now()));
        res.writeHead(200, { 'content-type': 'application/json', 'x-velox-build': 'true' });
        res.end(JSON.stringify(build));
        return;
      }
      res.writeHead(path === '/missing' ? 404 : 200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
      res.end(`${req.method ?? ''} ${path} ${Buffer.concat(chunks).toString()}`);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), delayMs: 1000 });
  const bucket = uniqueBucket();
  const builds = { redisUrl: redisTestUrl(), redisPrefix: uniquePrefix(), veloxUrl: velox.url, upstreamUrl };
  proxy = await startBuildGateway({ bucket, builds, inProcessWorker: true });
  // Same queue and store, but clients wait at most 1 s here; it runs no worker itself.
  impatient = await startBuildGateway({ bucket, builds: { ...builds, buildTimeout: 1 }, inProcessWorker: false });
  workerGw = await startBuildGateway({ bucket, builds, inProcessWorker: true });
});

afterAll(async () => {
  await Promise.all([proxy?.close(), impatient?.close(), workerGw?.close()]);
  await velox?.close();
  await new Promise((r) => upstream?.close(r));
});

describe('interception of X-Velox-Build answers', () => {
  it('passes ordinary answers, bodies and statuses through', async () => {
    const get = await fetch(`${proxy.url}/index.php?x=1`);
    expect(get.status).toBe(200);
    expect(get.headers.get('x-upstream')).toBe('yes');
    expect(await get.text()).toBe('GET /index.php?x=1 ');
    const post = await fetch(`${proxy.url}/form`, { method: 'POST', body: 'a=b' });
    expect(await post.text()).toBe('POST /form a=b');
    expect((await fetch(`${proxy.url}/missing`)).status).toBe(404);
    // The gateway's own routes are not proxied.
    expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
  });

  it('turns an intercepted answer into the binary: built on a miss, then a hit', async () => {
    const request = uniqueRequest('proxy-miss');
    buildBodies.set('/download/rr', request);
    const started = Date.now();
    const res = await fetch(`${proxy.url}/download/rr`, { redirect: 'manual' });
    const answeredAt = Date.now();
    expect(res.status).toBe(302);
    expect(res.headers.get('x-cache')).toBe('MISS');
    // The upstream was released at once, long before the build finished.
    const released = upstreamDone.get('/download/rr') as number;
    expect(released - started).toBeLessThan(500);
    expect(answeredAt - released).toBeGreaterThanOrEqual(900);
    const expected = createHash('sha256').update(standInBinary(velox.calls.at(-1)?.body ?? {}, 64 * 1024)).digest('hex');
    expect(await downloadSha256(String(res.headers.get('location')))).toEqual({ status: 200, sha256: expected, size: 64 * 1024 });
    const calls = velox.calls.length;

    const hit = await fetch(`${proxy.url}/download/rr`, { redirect: 'manual' });
    expect(hit.status).toBe(302);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect((await downloadSha256(String(hit.headers.get('location')))).sha256).toBe(expected);
    expect(velox.calls).toHaveLength(calls);
  });

  it('answers 502 when the upstream asks for an invalid build', async () => {
    buildBodies.set('/bad', { rr_version: 'latest', target_platform: { os: 'linux', arch: 'amd64' }, plugins: [] });
    const res = await fetch(`${proxy.url}/bad`, { redirect: 'manual' });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe('upstream_invalid_build');
    expect(body.message).toContain('rr_version');
  });

  it('answers 504 past the build timeout', async () => {
    velox.options.delayMs = 3000;
    buildBodies.set('/slow', uniqueRequest('proxy-slow'));
    const started = Date.now();
    const res = await fetch(`${impatient.url}/slow`, { redirect: 'manual' });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { code: string }).code).toBe('build_timeout');
    expect(Date.now() - started).toBeLessThan(2500);
    velox.options.delayMs = 1000;
  });

  it('a client that disconnects stops waiting, and the build is cancelled when nobody else waits', async () => {
    velox.options.delayMs = 3000;
    const request = uniqueRequest('proxy-leave');
    buildBodies.set('/leave', request);
    const id = `${buildKey(canonicalRequest(parseBuildRequest(request)))}-0`;
    const controller = new AbortController();
    const pending = fetch(`${impatient.url}/leave`, { redirect: 'manual', signal: controller.signal }).catch((e: unknown) => e);
    const deadline = Date.now() + 5000;
    while ((await impatient.runtime.queue.get(id))?.state !== 'building') {
      if (Date.now() > deadline) throw new Error('build did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
    controller.abort();
    await pending;
    const until = Date.now() + 5000;
    let state = (await impatient.runtime.queue.get(id))?.state;
    while (state !== 'cancelled' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await impatient.runtime.queue.get(id))?.state;
    }
    expect(state).toBe('cancelled');
    velox.options.delayMs = 1000;
  });
});
