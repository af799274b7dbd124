import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteClient } from '../../../src/cli/remote/client.js';
import { RemoteCache } from '../../../src/cli/remote/remote-cache.js';
import { noProgress } from '../../../src/cli/report/progress.js';

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  bytes?: number;
}

type Handler = (call: Call) => Response | Promise<Response>;

/** A fake network edge: records every request and answers from `handler`. */
function fakeFetch(handler: Handler): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fn = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    let body: unknown;
    let bytes: number | undefined;
    if (typeof init?.body === 'string') body = JSON.parse(init.body);
    else if (init?.body instanceof Blob) bytes = (await init.body.arrayBuffer()).byteLength;
    // Uploads stream through a meter (the stall watchdog counts what leaves).
    else if (init?.body instanceof ReadableStream) bytes = (await new Response(init.body).arrayBuffer()).byteLength;
    const call: Call = { method: init?.method ?? 'GET', url: input.toString(), headers, body, ...(bytes === undefined ? {} : { bytes }) };
    calls.push(call);
    return handler(call);
  };
  return { fetch: fn as unknown as typeof fetch, calls };
}

const json = (status: number, value: unknown): Response => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
const CAPS = { driver: 's3', integrity: 'md5', conditional_writes: true, multipart_threshold: 64 << 20, max_artifact_size: 1 << 30, presign_ttl: 900 };

function cache(handler: Handler): { remote: RemoteCache; calls: Call[]; warnings: string[] } {
  const { fetch, calls } = fakeFetch(handler);
  const warnings: string[] = [];
  const remote = new RemoteCache({
    client: new RemoteClient({ url: 'http://gw.test', token: 'tok', timeoutMs: 1000, fetch }),
    namespace: 'web',
    warn: (m) => warnings.push(m),
    progress: noProgress,
  });
  return { remote, calls, warnings };
}

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

async function archiveFile(content: string): Promise<{ file: string; digests: { size: number; sha256: string; md5: string; parts: Array<{ size: number; md5: string }> } }> {
  const dir = await mkdtemp(join(tmpdir(), 'velocity-remote-'));
  temps.push(dir);
  const file = join(dir, 'a.tar.gz');
  await writeFile(file, content);
  const buf = Buffer.from(content);
  const md5 = createHash('md5').update(buf).digest('base64');
  return { file, digests: { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex'), md5, parts: [{ size: buf.length, md5 }] } };
}

describe('remote cache', () => {
  it('negotiates tasks that are ready together in one batch, with the bearer token', async () => {
    const { remote, calls } = cache(({ body }) => {
      const items = (body as { items: Array<{ hash: string }> }).items;
      return json(200, { results: items.map((i) => (i.hash === 'k2' ? { status: 'found', url: 'http://store/k2', expires_at: '', size: 1, sha256: 'a'.repeat(64) } : { status: 'missing' })) });
    });
    const found = await remote.lookup(['k1', 'k2', 'k3']);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('http://gw.test/v1/negotiate/batch');
    expect(calls[0]?.headers.authorization).toBe('Bearer tok');
    expect(calls[0]?.body).toEqual({ items: ['k1', 'k2', 'k3'].map((hash) => ({ hash, action: 'download', namespace: 'web' })) });
    expect([...found.entries()].map(([k, v]) => [k, v?.status ?? null])).toEqual([['k1', null], ['k2', 'found'], ['k3', null]]);
  });

  it.each([
    ['a 503', (): Response => json(503, { code: 'storage_unavailable', message: 'store down' }), /HTTP 503 \(storage_unavailable: store down\)/],
    ['a 401', (): Response => json(401, { code: 'unauthorized', message: 'unknown token' }), /HTTP 401[\s\S]*hint: the token was not accepted/],
    ['a 403', (): Response => json(403, { code: 'forbidden', message: 'no scope' }), /HTTP 403[\s\S]*cache:read/],
    ['a network error', (): Response => { throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }); }, /ECONNRESET/],
    ['an error item in the batch', (): Response => json(200, { results: [{ status: 'error', code: 'storage_unavailable', message: 'down' }, { status: 'missing' }] }), /negotiation refused: storage_unavailable/],
  ])('treats %s as the remote being unavailable: one warning, then off for the run', async (_name, answer, pattern) => {
    const { remote, calls, warnings } = cache(answer);
    expect([...(await remote.lookup(['k1', 'k2'])).values()]).toEqual([null, null]);
    expect(remote.enabled).toBe(false);
    const { file, digests } = await archiveFile('bytes');
    expect(await remote.upload('p:build', 'k1', file, digests)).toBe('unavailable');
    expect(await remote.download('p:build', { status: 'found', url: 'http://store/x', expires_at: '', size: 1, sha256: 'x' }, join(tmpdir(), 'never'))).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(pattern);
    expect(calls).toHaveLength(1);
  });

  it('uploads with exactly the negotiated headers, declaring size, sha256 and (for md5 stores) md5', async () => {
    const { file, digests } = await archiveFile('archive bytes');
    const signed = { 'If-None-Match': '*', 'Content-Length': String(digests.size), 'Content-MD5': digests.md5 };
    const { remote, calls } = cache(({ url, method }) => {
      if (url.endsWith('/v1/capabilities')) return json(200, CAPS);
      if (url.endsWith('/v1/negotiate')) return json(200, { status: 'upload_needed', url: 'http://store/put', method: 'PUT', headers: signed, expires_at: '' });
      if (method === 'PUT') return new Response(null, { status: 200 });
      return json(404, {});
    });
    expect(await remote.upload('p:build', 'key1', file, digests)).toBe('uploaded');
    const negotiate = calls.find((c) => c.url.endsWith('/v1/negotiate'));
    expect(negotiate?.body).toEqual({ hash: 'key1', action: 'upload', namespace: 'web', size: digests.size, sha256: digests.sha256, md5: digests.md5 });
    const put = calls.find((c) => c.method === 'PUT');
    expect(put?.headers).toEqual(Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), v])));
    expect(put?.bytes).toBe(digests.size);
  });

  it.each([
    ['skipped at negotiation', { status: 'skipped' }, 200],
    ['412 from the store', { status: 'upload_needed', url: 'http://store/put', method: 'PUT', headers: { 'If-None-Match': '*' }, expires_at: '' }, 412],
  ])('treats %s as somebody else having written the key first', async (_name, answer, putStatus) => {
    const { file, digests } = await archiveFile('x');
    const { remote, warnings } = cache(({ url, method }) => {
      if (url.endsWith('/v1/capabilities')) return json(200, { ...CAPS, integrity: 'sha256' });
      if (method === 'PUT') return new Response('<Error>PreconditionFailed</Error>', { status: putStatus });
      return json(200, answer);
    });
    expect(await remote.upload('p:build', 'key1', file, digests)).toBe('skipped');
    expect(warnings).toEqual([]);
    expect(remote.enabled).toBe(true);
  });

  it('verifies downloads against the negotiated digest: a mismatch is a warning and a miss, not an outage', async () => {
    const payload = Buffer.from('the real artifact');
    const sha256 = createHash('sha256').update(payload).digest('hex');
    const { remote, warnings } = cache(({ url }) => new Response(url.endsWith('/good') ? payload : Buffer.from('tampered bytes!!!')));
    const dir = await mkdtemp(join(tmpdir(), 'velocity-dl-'));
    temps.push(dir);
    expect(await remote.download('p:build', { status: 'found', url: 'http://store/good', expires_at: '', size: payload.length, sha256 }, join(dir, 'ok'))).toBe(true);
    expect(await readFile(join(dir, 'ok'))).toEqual(payload);
    expect(await remote.download('p:build', { status: 'found', url: 'http://store/bad', expires_at: '', size: payload.length, sha256 }, join(dir, 'bad'))).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/does not match its digest/);
    expect(remote.enabled).toBe(true);
  });

  it('declares parts at or above the threshold even when a single part holds the archive', async () => {
    const { file, digests } = await archiveFile('0123456789');
    const { remote, calls } = cache(({ url, method }) => {
      if (url.endsWith('/v1/capabilities')) return json(200, { ...CAPS, multipart_threshold: 10 });
      if (url.endsWith('/v1/negotiate')) return json(200, { status: 'skipped' });
      return json(method === 'PUT' ? 500 : 404, {});
    });
    expect(await remote.upload('p:build', 'one', file, digests)).toBe('skipped');
    expect((calls.find((c) => c.url.endsWith('/v1/negotiate'))?.body as { parts: unknown }).parts).toEqual(digests.parts);
  });

  it('uploads large archives in parts and completes with their ETags', async () => {
    const { file, digests } = await archiveFile('0123456789');
    const parts = [{ size: 6, md5: 'p1' }, { size: 4, md5: 'p2' }];
    const { remote, calls } = cache(({ url, method, headers }) => {
      if (url.endsWith('/v1/capabilities')) return json(200, { ...CAPS, multipart_threshold: 8 });
      if (url.endsWith('/v1/negotiate')) {
        return json(200, {
          status: 'upload_needed',
          expires_at: '',
          multipart: { upload_id: 'u1', parts: [1, 2].map((n) => ({ part_number: n, url: `http://store/part${n}`, method: 'PUT', headers: { 'Content-Length': String(parts[n - 1]?.size), 'x-part': String(n) } })) },
        });
      }
      if (method === 'PUT') return new Response(null, { status: 200, headers: { etag: `"etag-${headers['x-part']}"` } });
      if (url.endsWith('/v1/uploads/complete')) return json(200, { status: 'stored', size: 10, sha256: digests.sha256 });
      return json(404, {});
    });
    expect(await remote.upload('p:build', 'big', file, { ...digests, parts })).toBe('uploaded');
    expect((calls.find((c) => c.url.endsWith('/v1/negotiate'))?.body as { parts: unknown }).parts).toEqual(parts);
    // Parts go up in parallel: compare by part, not by arrival order.
    expect(Object.fromEntries(calls.filter((c) => c.method === 'PUT').map((c) => [c.url, c.bytes]))).toEqual({ 'http://store/part1': 6, 'http://store/part2': 4 });
    expect(calls.find((c) => c.url.endsWith('/complete'))?.body).toEqual({ hash: 'big', namespace: 'web', upload_id: 'u1', parts: [{ part_number: 1, etag: '"etag-1"' }, { part_number: 2, etag: '"etag-2"' }] });
  });
  it('downloads small artifacts into memory, verified: a mismatch or a longer body is a warning and a miss', async () => {
    const payload = Buffer.from('the real artifact');
    const sha256 = createHash('sha256').update(payload).digest('hex');
    const { remote, warnings } = cache(({ url }) =>
      new Response(url.endsWith('/good') ? payload : url.endsWith('/long') ? Buffer.concat([payload, payload]) : Buffer.from('tampered bytes!!!')),
    );
    const found = (name: string) => ({ status: 'found' as const, url: `http://store/${name}`, expires_at: '', size: payload.length, sha256 });
    expect(await remote.fetchBytes('p:build', found('good'))).toEqual(payload);
    expect(await remote.fetchBytes('p:build', found('bad'))).toBeNull();
    expect(await remote.fetchBytes('p:build', found('long'))).toBeNull();
    expect(warnings).toHaveLength(2);
    for (const w of warnings) expect(w).toMatch(/does not match its digest/);
    expect(remote.enabled).toBe(true);
  });

  it('turns the remote off when a download answers an error status', async () => {
    const { remote, warnings } = cache(() => json(503, { code: 'storage_unavailable', message: 'down' }));
    expect(await remote.fetchBytes('p:build', { status: 'found', url: 'http://store/x', expires_at: '', size: 1, sha256: 'x' })).toBeNull();
    expect(remote.enabled).toBe(false);
    expect(warnings[0]).toMatch(/download: HTTP 503/);
  });
});
