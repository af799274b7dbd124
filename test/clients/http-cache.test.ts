import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';
import { uniqueNamespace } from './stream-download-harness.js';

const LIMIT = 256 * 1024;

/**
 * The plain HTTP cache as Gradle's HTTP build cache uses it (Gradle itself is not installed here):
 * `GET`/`PUT {url}/{key}` with Basic auth whose password is the token, and 413 read as "not
 * stored". Paths are sent raw (node:http does not normalise them as fetch does).
 */
describe('plain HTTP cache (Gradle-style requests)', () => {
  let gw: ClientGateway;

  beforeAll(async () => {
    gw = await startClientGateway({ config: { cache: { maxArtifactSize: LIMIT } } });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  const basic = (password: string, user = 'gradle'): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  /** A raw request: the path goes out exactly as written. */
  function raw(method: string, path: string, headers: Record<string, string>, body?: Buffer | Readable): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = request(`${gw.url}/`, { method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      if (body instanceof Readable) body.pipe(req);
      else req.end(body);
    });
  }

  it('stores and serves with Basic auth (the password is the token); a second PUT keeps the first bytes', async () => {
    const ns = uniqueNamespace('gradle');
    const auth = { authorization: basic(gw.token), 'content-type': 'application/vnd.gradle.build-cache-artifact.v2' };
    const key = `/ns/${ns}/http/cache/9f86d081884c7d659a2feaa0c55ad015`;
    expect((await raw('GET', key, auth)).status).toBe(404);
    const entry = randomBytes(40_000);
    expect((await raw('PUT', key, { ...auth, 'content-length': String(entry.length) }, entry)).status).toBe(200);
    const hit = await raw('GET', key, auth);
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.equals(entry)).toBe(true);
    // Gradle overwrites blindly: it is told "stored", and the first bytes stay.
    const again = randomBytes(100);
    expect((await raw('PUT', key, { ...auth, 'content-length': String(again.length) }, again)).status).toBe(200);
    expect((await raw('GET', key, auth)).body.equals(entry)).toBe(true);
    // Entries are immutable: no DELETE (ccache never needs one).
    expect((await raw('DELETE', key, auth)).status).toBe(405);
    expect((await raw('GET', key, auth)).status).toBe(200);
    expect((await gw.stored('http', ns)).map((a) => a.ref.hash)).toHaveLength(1);
  });

  it('answers 413 past the size limit, declared or chunked, and stores nothing', async () => {
    const ns = uniqueNamespace('gradle');
    const auth = { authorization: basic(gw.token) };
    const big = randomBytes(LIMIT + 1);
    const declared = await raw('PUT', `/ns/${ns}/http/too/big`, { ...auth, 'content-length': String(big.length) }, big);
    expect(declared.status).toBe(413);
    const chunked = await raw('PUT', `/ns/${ns}/http/too/big-chunked`, { ...auth, 'transfer-encoding': 'chunked' }, Readable.from([big.subarray(0, 100_000), big.subarray(100_000)]));
    expect(chunked.status).toBe(413);
    const atLimit = big.subarray(0, LIMIT);
    expect((await raw('PUT', `/ns/${ns}/http/at/limit`, { ...auth, 'content-length': String(LIMIT) }, atLimit)).status).toBe(200);
    expect((await gw.stored('http', ns)).map((a) => a.ref.hash)).toHaveLength(1);
  });

  it('asks for credentials Gradle can answer, and keeps read-only tokens and other namespaces out', async () => {
    const ns = uniqueNamespace('gradle');
    const body = randomBytes(10);
    const anonymous = await raw('PUT', `/ns/${ns}/http/k`, { 'content-length': '10' }, body);
    expect(anonymous.status).toBe(401);
    expect(String(anonymous.headers['www-authenticate'])).toMatch(/^Basic realm=/);
    expect((await raw('GET', `/ns/${ns}/http/k`, { authorization: basic('not-the-token') })).status).toBe(401);
    expect((await raw('GET', `/ns/${ns}/http/k`, { authorization: basic('') })).status).toBe(401);
    const readOnly = basic(await gw.jwt(['cache:read']));
    expect((await raw('PUT', `/ns/${ns}/http/k`, { authorization: readOnly, 'content-length': '10' }, body)).status).toBe(403);
    expect((await raw('GET', `/ns/${ns}/http/k`, { authorization: readOnly })).status).toBe(404);
    const teamA = basic(await gw.jwt(['cache:read', 'cache:write'], ['team-a']));
    expect((await raw('PUT', `/ns/${ns}/http/k`, { authorization: teamA, 'content-length': '10' }, body)).status).toBe(403);
    expect((await gw.stored('http', ns)).map((a) => a.ref.hash)).toEqual([]);
  });

  it('refuses path traversal, encoded separators, empty segments and over-long keys (400), storing nothing', async () => {
    const ns = uniqueNamespace('gradle');
    const auth = { authorization: `Bearer ${gw.token}`, 'content-length': '4' };
    const paths = [
      `/ns/${ns}/http/../../etc/passwd`,
      `/ns/${ns}/http/a/../b`,
      `/ns/${ns}/http/./a`,
      `/ns/${ns}/http/a/%2e%2e/b`,
      `/ns/${ns}/http/a%2Fb`,
      `/ns/${ns}/http/a//b`,
      `/ns/${ns}/http/a/`,
      `/ns/${ns}/http/${'x'.repeat(161)}`,
      `/ns/${ns}/http/${Array.from({ length: 9 }, () => 'a').join('/')}`,
      `/ns/${ns}/http/${Array.from({ length: 6 }, () => 'y'.repeat(100)).join('/')}`,
      `/ns/${ns}/http/a%00b`,
      `/http/a b`.replace(' ', '%20'),
    ];
    for (const path of paths) {
      for (const method of ['PUT', 'GET']) {
        const r = await raw(method, path, auth, method === 'PUT' ? Buffer.from('evil') : undefined);
        expect([path, method, r.status]).toEqual([path, method, 400]);
        expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'invalid_key' });
      }
    }
    expect((await gw.stored('http', ns)).map((a) => a.ref.hash)).toEqual([]);
    // `..` as the namespace is no namespace.
    for (const path of ['/ns/../http/k', '/ns/%2e%2e/http/k']) {
      const r = await raw('GET', path, auth);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body.toString())).toMatchObject({ code: 'invalid_namespace' });
    }
  });
});
