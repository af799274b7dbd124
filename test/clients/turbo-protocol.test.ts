import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';

/** The Turborepo API at the HTTP level, on RGW: what the real client relies on, and bad input. */
let cg: ClientGateway;
let bearer: Record<string, string>;

beforeAll(async () => {
  cg = await startClientGateway({ driver: 's3' });
  bearer = { authorization: `Bearer ${cg.token}` };
}, 60_000);

afterAll(async () => {
  await cg?.close();
});

const art = (hash: string, query = 'slug=proto') => `${cg.url}/v8/artifacts/${hash}?${query}`;

async function put(hash: string, body: Buffer, headers: Record<string, string> = {}, query?: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(art(hash, query), { method: 'PUT', headers: { ...bearer, 'content-type': 'application/octet-stream', ...headers }, body });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

describe('Turborepo API', () => {
  it('PUT stores once (202, then 200 without replacing); GET answers 302 to the store, whose bytes are the first upload', async () => {
    const first = randomBytes(5000);
    expect(await put('cafe01', first, { 'x-artifact-duration': '1234' })).toEqual({ status: 202, json: { urls: [] } });
    expect((await put('cafe01', randomBytes(5000))).status).toBe(200);
    const res = await fetch(art('cafe01'), { headers: bearer, redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-cache')).toBe('HIT');
    const location = res.headers.get('location')!;
    expect(new URL(location).origin).toBe(new URL(cg.proxy!.url).origin);
    const fromStore = await fetch(location);
    expect(fromStore.status).toBe(200);
    expect(Buffer.from(await fromStore.arrayBuffer()).equals(first)).toBe(true);
  });

  it('HEAD answers from metadata: size, duration, no tag when none was sent; a miss is 404', async () => {
    const body = randomBytes(777);
    await put('cafe02', body, { 'x-artifact-duration': '42' });
    const head = await fetch(art('cafe02'), { method: 'HEAD', headers: bearer });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('777');
    expect(head.headers.get('x-artifact-duration')).toBe('42');
    expect(head.headers.get('x-artifact-tag')).toBeNull();
    expect((await fetch(art('cafe99'), { method: 'HEAD', headers: bearer })).status).toBe(404);
    const miss = await fetch(art('cafe99'), { headers: bearer });
    expect(miss.status).toBe(404);
    expect(miss.headers.get('x-cache')).toBe('MISS');
  });

  it('a signed upload keeps its tag: the hit streams with x-artifact-tag and x-artifact-duration', async () => {
    const body = randomBytes(3000);
    const tag = randomBytes(32).toString('base64');
    expect((await put('cafe03', body, { 'x-artifact-tag': tag, 'x-artifact-duration': '7' })).status).toBe(202);
    const res = await fetch(art('cafe03'), { headers: bearer, redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-artifact-tag')).toBe(tag);
    expect(res.headers.get('x-artifact-duration')).toBe('7');
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
  });

  it('rejects malformed hashes, durations, tags and teams with 400, before storing anything', async () => {
    const body = randomBytes(10);
    for (const hash of ['a.b', 'x'.repeat(129), '..%2Fescape', 'a%20b']) {
      expect((await put(hash, body)).status).toBe(400);
      expect((await fetch(art(hash), { headers: bearer })).status).toBe(400);
    }
    expect((await put('cafe04', body, { 'x-artifact-duration': '12ms' })).status).toBe(400);
    expect((await put('cafe04', body, { 'x-artifact-duration': '-1' })).status).toBe(400);
    expect((await put('cafe04', body, { 'x-artifact-tag': 'not base64!' })).status).toBe(400);
    expect((await put('cafe04', body, { 'x-artifact-tag': 'A'.repeat(601) })).status).toBe(400);
    expect((await put('cafe04', body, {}, 'teamId=abc')).status).toBe(400);
    expect((await put('cafe04', body, {}, 'teamId=team_')).status).toBe(400);
    expect((await put('cafe04', body, {}, 'slug=Upper')).status).toBe(400);
    expect((await put('cafe04', body, {}, 'slug=a&slug=b')).status).toBe(400);
    expect(await cg.stored('turbo', 'proto')).not.toContainEqual(expect.objectContaining({ ref: expect.objectContaining({ hash: 'cafe04' }) }));
  });

  it('answers a read-only token 403 in the shape Turborepo parses, and stores nothing', async () => {
    const readOnly = await cg.jwt(['cache:read']);
    const res = await fetch(art('cafe05'), { method: 'PUT', headers: { authorization: `Bearer ${readOnly}` }, body: randomBytes(10) });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: { code: 'forbidden', message: expect.stringContaining('cache:write') } });
    expect((await fetch(art('cafe05'), { headers: { authorization: `Bearer ${readOnly}` } })).status).toBe(404);
  });

  it('preflight lists the allowed headers explicitly (Authorization among them), never *', async () => {
    const res = await fetch(art('cafe01'), { method: 'OPTIONS', headers: { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'Authorization, x-artifact-tag' } });
    expect(res.status).toBe(204);
    const allowed = res.headers.get('access-control-allow-headers')!;
    expect(allowed).not.toContain('*');
    expect(allowed.split(/,\s*/)).toEqual(expect.arrayContaining(['Authorization', 'Content-Type', 'User-Agent', 'x-artifact-duration', 'x-artifact-tag']));
    expect(res.headers.get('location')).toBeNull();
  });

  it('status is enabled for a token that may read the team, disabled otherwise; events are accepted', async () => {
    const status = async (token: string, query = 'slug=proto') => (await fetch(`${cg.url}/v8/artifacts/status?${query}`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(await status(cg.token)).toEqual({ status: 'enabled' });
    expect(await status(await cg.jwt(['cache:read'], ['elsewhere']))).toEqual({ status: 'disabled' });
    expect(await status(await cg.jwt(['cache:write'], ['proto']))).toEqual({ status: 'disabled' });
    const events = (body: string) => fetch(`${cg.url}/v8/artifacts/events?slug=proto`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body });
    expect((await events(JSON.stringify([{ sessionId: 's', source: 'REMOTE', event: 'HIT', hash: 'cafe01', duration: 3 }]))).status).toBe(200);
    expect((await events('{}')).status).toBe(400);
    expect((await fetch(`${cg.url}/v8/artifacts/status`)).status).toBe(401);
  });

  it('the batch query answers size, duration and tag per hash, null for a miss', async () => {
    const query = (hashes: unknown) =>
      fetch(`${cg.url}/v8/artifacts?slug=proto`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ hashes }) });
    const res = await query(['cafe02', 'cafe03', 'cafe98']);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      cafe02: { size: 777, taskDurationMs: 42 },
      cafe03: { size: 3000, taskDurationMs: 7, tag: expect.any(String) },
      cafe98: null,
    });
    expect((await query(['ok', 'bad.hash'])).status).toBe(400);
    expect((await query('cafe02')).status).toBe(400);
    expect((await query(Array.from({ length: 501 }, (_, i) => `h${i}`))).status).toBe(400);
  });

  it('with the store down: 503 on GET (never a miss) and PUT, nothing stored; a key read within VC_KNOWN_KEYS_TTL still redirects', async () => {
    // Stored, never read: the gateway has to ask the store about it.
    expect((await put('cafe07', randomBytes(100))).status).toBe(202);
    cg.proxy!.set({ kind: 'down' });
    try {
      const get = await fetch(art('cafe07'), { headers: bearer, redirect: 'manual' });
      expect(get.status).toBe(503);
      expect(get.headers.get('retry-after')).toBe('5');
      // Read by an earlier test: the L1 answers it, as it does a negotiated hit (the client then
      // finds the store down itself, and runs the task).
      expect((await fetch(art('cafe02'), { headers: bearer, redirect: 'manual' })).status).toBe(302);
      expect((await put('cafe06', randomBytes(100))).status).toBe(503);
    } finally {
      cg.proxy!.set({ kind: 'pass' });
    }
    expect((await fetch(art('cafe06'), { headers: bearer })).status).toBe(404);
  });
});
