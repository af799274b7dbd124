import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:http';
import { Registry } from 'prom-client';
import type { Principal } from '../../src/auth/principal.js';
import { SCOPES, type Scope } from '../../src/auth/principal.js';
import { isStreamedUpload } from '../../src/gateway/create-app.js';
import { protocolNamespace } from '../../src/gateway/protocols/client-auth.js';
import { createMetrics } from '../../src/metrics/create-metrics.js';
import { protocolMetrics } from '../../src/metrics/protocol-metrics.js';
import { startClientGateway, counterValue, type ClientGateway } from './protocol-kit-gateway.js';

function principal(scopes: Scope[], namespaces: '*' | string[]): Principal {
  return { subject: 'test', scopes: new Set(scopes), namespaces: namespaces === '*' ? '*' : new Set(namespaces) };
}

/** The status of the error `fn` throws (undefined when it does not throw). */
function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { status?: number }).status;
  }
  return undefined;
}

describe('protocolNamespace', () => {
  const rw: Scope[] = ['cache:read', 'cache:write'];
  it("takes the URL's namespace, else the token's only one, else default", () => {
    expect(protocolNamespace(principal(rw, '*'), 'team-a', 'read')).toBe('team-a');
    expect(protocolNamespace(principal(rw, ['mine']), undefined, 'write')).toBe('mine');
    expect(protocolNamespace(principal(rw, '*'), undefined, 'read')).toBe('default');
    expect(protocolNamespace(principal(rw, ['default', 'other']), undefined, 'read')).toBe('default');
  });
  it('checks the pattern (400), the token namespaces and the scope of the mode (403)', () => {
    expect(statusOf(() => protocolNamespace(principal(rw, '*'), 'Team_A', 'read'))).toBe(400);
    expect(statusOf(() => protocolNamespace(principal(rw, '*'), '../x', 'read'))).toBe(400);
    expect(statusOf(() => protocolNamespace(principal(rw, ['mine']), 'theirs', 'read'))).toBe(403);
    expect(statusOf(() => protocolNamespace(principal(rw, ['a', 'b']), undefined, 'read'))).toBe(403);
    expect(statusOf(() => protocolNamespace(principal(['cache:read'], '*'), 'x', 'write'))).toBe(403);
    expect(statusOf(() => protocolNamespace(principal(['cache:write'], '*'), 'x', 'read'))).toBe(403);
    expect(protocolNamespace(principal(['admin'], '*'), 'x', 'write')).toBe('x');
    expect(SCOPES).toContain('cache:write');
  });
});

describe('isStreamedUpload', () => {
  const req = (method: string, url: string) => ({ method, url }) as IncomingMessage;
  it('covers the protocol uploads (with or without /ns/) and the local driver, nothing else', () => {
    for (const url of ['/v8/artifacts/abc?slug=x', '/v1/cache/123', '/ns/a/v1/cache/123', '/bazel/cas/ab', '/ns/a/bazel/ac/ab', '/http/ab/cd', '/ns/a/http/x', '/v1/local/artifacts/default/h']) {
      expect(isStreamedUpload(req('PUT', url))).toBe(true);
    }
    for (const [method, url] of [
      ['GET', '/v8/artifacts/abc'],
      ['POST', '/v8/artifacts'],
      ['PUT', '/v1/negotiate'],
      ['PUT', '/v1/uploads/complete'],
      ['PUT', '/v8/artifactsx'],
      ['PUT', '/ns/a/b/v1/cache/1'],
    ] as const) {
      expect(isStreamedUpload(req(method, url))).toBe(false);
    }
  });
});

describe('protocol metrics', () => {
  it('registers once per registry, every series at zero, outages into vc_storage_errors_total', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const m = protocolMetrics(metrics);
    expect(protocolMetrics(metrics)).toBe(m);
    expect(await counterValue(metrics.registry, 'vc_cache_hits_total', { protocol: 'bazel' })).toBe(0);
    // Every protocol's hit and miss series exist from the start, per namespace kind.
    const hitSeries = (await metrics.registry.getSingleMetric('vc_cache_hits_total')!.get()).values;
    expect(hitSeries.map((v) => `${v.labels.protocol}/${v.labels.namespace_kind}`).sort()).toEqual(
      ['bazel', 'http', 'nx', 'turbo', 'velocity'].flatMap((p) => [`${p}/default`, `${p}/named`]),
    );
    expect((await metrics.registry.getSingleMetric('vc_protocol_bytes_total')!.get()).values).toHaveLength(4 * 2 * 2);
    m.hit('nx', 'team-a');
    m.miss('http', 'default');
    m.bytes('turbo', 'down', 'redirected', 10);
    m.bytes('turbo', 'down', 'redirected', 0);
    m.storageError('download');
    expect(await counterValue(metrics.registry, 'vc_cache_hits_total', { protocol: 'nx', namespace_kind: 'named' })).toBe(1);
    expect(await counterValue(metrics.registry, 'vc_cache_misses_total', { protocol: 'http', namespace_kind: 'default' })).toBe(1);
    expect(await counterValue(metrics.registry, 'vc_protocol_bytes_total', { protocol: 'turbo', direction: 'down', mode: 'redirected' })).toBe(10);
    expect(await counterValue(metrics.registry, 'vc_storage_errors_total', { operation: 'download' })).toBe(1);
    expect(new Registry().getSingleMetric('vc_protocol_bytes_total')).toBeUndefined();
  });
});

/** Raw HTTP, so a test controls what is sent and when: a body can be declared and held back. */
function send(url: string, opts: { method: string; headers: Record<string, string>; body?: Buffer; holdBody?: boolean; chunks?: Buffer[] }) {
  return new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
    const req = request(url, { method: opts.method, headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
      });
    });
    req.on('error', reject);
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else if (opts.holdBody) {
      req.flushHeaders();
    } else {
      req.end(opts.body);
    }
  });
}

describe('the protocol kit on a real gateway (local driver, 1 KiB limit)', () => {
  let cg: ClientGateway;
  beforeAll(async () => {
    cg = await startClientGateway({ driver: 'local', config: { cache: { maxArtifactSize: 1024 } } });
  });
  afterAll(async () => {
    await cg?.close();
  });
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('accepts Bearer, and Basic whose password is the token; anything else is 401 offering both', async () => {
    const body = randomBytes(100);
    const put = (authorization: string | undefined, hash: string) =>
      send(`${cg.url}/ns/kit/v1/cache/${hash}`, { method: 'PUT', headers: { ...(authorization ? { authorization } : {}), 'content-length': String(body.length) }, body });
    expect((await put(`Bearer ${cg.token}`, '1')).status).toBe(200);
    expect((await put(basic('anyone', cg.token), '2')).status).toBe(200);
    expect((await put(basic('', cg.token), '3')).status).toBe(200);
    for (const bad of [undefined, basic(cg.token, ''), `Basic ${Buffer.from(cg.token).toString('base64')}`, basic('u', `${cg.token}x`), `Bearer ${cg.token}x`, 'Token abc']) {
      const res = await put(bad, '4');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="velocity", Bearer realm="velocity"');
    }
    expect(await cg.stored('nx', 'kit')).toHaveLength(3);
  });

  it('refuses a declared body over the limit before reading it (413; Nx: 403, its "not stored")', async () => {
    const auth = { authorization: `Bearer ${cg.token}`, 'content-length': '2048' };
    // The body is never sent: the answer must come from the headers alone.
    const turbo = await send(`${cg.url}/v8/artifacts/big?slug=kit`, { method: 'PUT', headers: auth, holdBody: true });
    expect(turbo.status).toBe(413);
    expect(turbo.headers.connection).toBe('close');
    const nx = await send(`${cg.url}/ns/kit/v1/cache/99`, { method: 'PUT', headers: auth, holdBody: true });
    expect(nx.status).toBe(403);
    expect(JSON.parse(nx.body)).toMatchObject({ code: 'payload_too_large' });
    expect(await cg.stored('turbo', 'kit')).toHaveLength(0);
  });

  it('stops a chunked body at the limit, storing nothing', async () => {
    const res = await send(`${cg.url}/v8/artifacts/chunked?slug=kit`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${cg.token}`, 'transfer-encoding': 'chunked' },
      chunks: [randomBytes(800), randomBytes(800)],
    });
    expect(res.status).toBe(413);
    expect(await cg.stored('turbo', 'kit')).toHaveLength(0);
  });

  it('refuses an encoded body (415): stored bytes are served back as they are', async () => {
    const body = randomBytes(100);
    const res = await send(`${cg.url}/v8/artifacts/encoded?slug=kit`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${cg.token}`, 'content-encoding': 'gzip', 'content-length': String(body.length) },
      body,
    });
    expect(res.status).toBe(415);
    expect(await cg.stored('turbo', 'kit')).toHaveLength(0);
  });

  it('streams hits when the store serves its own URLs (no redirect back to the gateway), counting the bytes as streamed', async () => {
    const body = randomBytes(1000);
    const headers = { authorization: `Bearer ${cg.token}` };
    expect((await fetch(`${cg.url}/v8/artifacts/local1?slug=kit`, { method: 'PUT', headers, body })).status).toBe(202);
    const before = await cg.counter('vc_protocol_bytes_total', { protocol: 'turbo', direction: 'down', mode: 'streamed' });
    const res = await fetch(`${cg.url}/v8/artifacts/local1?slug=kit`, { headers, redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('HIT');
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
    // Counted when the server side of the response closes, which may come just after the client read it all.
    const streamed = () => cg.counter('vc_protocol_bytes_total', { protocol: 'turbo', direction: 'down', mode: 'streamed' });
    for (const until = Date.now() + 5000; (await streamed()) === before && Date.now() < until; ) await new Promise((r) => setTimeout(r, 5));
    expect((await streamed()) - before).toBe(1000);
    const nx = await fetch(`${cg.url}/ns/kit/v1/cache/1`, { headers, redirect: 'manual' });
    expect(nx.status).toBe(200);
    await nx.arrayBuffer();
  });
});
