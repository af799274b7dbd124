import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';

/** The Nx self-hosted cache API at the HTTP level, on RGW: the statuses Nx 24 acts on, and bad input. */
let cg: ClientGateway;
let bearer: Record<string, string>;

beforeAll(async () => {
  cg = await startClientGateway({ driver: 's3' });
  bearer = { authorization: `Bearer ${cg.token}` };
}, 60_000);

afterAll(async () => {
  await cg?.close();
});

const url = (hash: string, ns = 'proto') => `${cg.url}/ns/${ns}/v1/cache/${hash}`;
const put = async (target: string, body: Buffer, headers = bearer) => {
  const res = await fetch(target, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
};

describe('Nx self-hosted cache API', () => {
  it('PUT answers 200 once, then 409 keeping the first bytes; GET answers 302 to the store; a miss is 404', async () => {
    const first = randomBytes(4096);
    expect((await put(url('1001'), first)).status).toBe(200);
    expect((await put(url('1001'), randomBytes(4096))).status).toBe(409);
    const res = await fetch(url('1001'), { headers: bearer, redirect: 'manual' });
    expect(res.status).toBe(302);
    const fromStore = await fetch(res.headers.get('location')!);
    expect(Buffer.from(await fromStore.arrayBuffer()).equals(first)).toBe(true);
    const miss = await fetch(url('1002'), { headers: bearer });
    expect(miss.status).toBe(404);
    expect(miss.headers.get('x-cache')).toBe('MISS');
  });

  it('takes the namespace from the URL or, without one, from the token', async () => {
    const body = randomBytes(100);
    expect((await put(url('2001', 'ns-a'), body)).status).toBe(200);
    expect((await fetch(url('2001', 'ns-b'), { headers: bearer })).status).toBe(404);
    const onlyA = { authorization: `Bearer ${await cg.jwt(['cache:read', 'cache:write'], ['ns-a'])}` };
    const viaToken = await fetch(`${cg.url}/v1/cache/2001`, { headers: onlyA, redirect: 'manual' });
    expect(viaToken.status).toBe(302);
    expect((await fetch(url('2001', 'ns-b'), { headers: onlyA })).status).toBe(403);
  });

  it('accepts only decimal u64 hashes and valid namespaces (400)', async () => {
    for (const hash of ['abc', '-1', '01', '1.5', '18446744073709551616', '99999999999999999999', ' 1']) {
      expect((await fetch(url(encodeURIComponent(hash)), { headers: bearer })).status).toBe(400);
      expect((await put(url(encodeURIComponent(hash)), randomBytes(10))).status).toBe(400);
    }
    expect((await fetch(url('18446744073709551615'), { headers: bearer })).status).toBe(404);
    expect((await fetch(url('0'), { headers: bearer })).status).toBe(404);
    expect((await fetch(url('1', 'Upper'), { headers: bearer })).status).toBe(400);
  });

  it('a read-only token gets 403 on PUT (Nx: "not stored") and nothing is stored', async () => {
    const readOnly = { authorization: `Bearer ${await cg.jwt(['cache:read'])}` };
    expect((await put(url('3001'), randomBytes(100), readOnly)).status).toBe(403);
    expect(await cg.stored('nx', 'proto')).not.toContainEqual(expect.objectContaining({ ref: expect.objectContaining({ hash: '3001' }) }));
    expect((await fetch(url('1001'), { headers: readOnly, redirect: 'manual' })).status).toBe(302);
  });

  it('with the store down: GET is a miss to Nx (404) and PUT "not stored" (403), both saying storage_unavailable and counted as outages', async () => {
    const [downloads, uploads] = [
      await cg.counter('vc_storage_errors_total', { operation: 'download' }),
      await cg.counter('vc_storage_errors_total', { operation: 'upload' }),
    ];
    // Stored, never read: the gateway has to ask the store about it (a key read within
    // VC_KNOWN_KEYS_TTL is answered from the L1, as a negotiated hit is).
    expect((await put(url('1002'), randomBytes(100))).status).toBe(200);
    cg.proxy!.set({ kind: 'down' });
    try {
      const get = await fetch(url('1002'), { headers: bearer, redirect: 'manual' });
      expect(get.status).toBe(404);
      expect(await get.json()).toMatchObject({ code: 'storage_unavailable' });
      const stored = await put(url('4001'), randomBytes(200_000));
      expect(stored).toEqual({ status: 403, json: expect.objectContaining({ code: 'storage_unavailable' }) });
    } finally {
      cg.proxy!.set({ kind: 'pass' });
    }
    expect(await cg.counter('vc_storage_errors_total', { operation: 'download' })).toBe(downloads + 1);
    expect(await cg.counter('vc_storage_errors_total', { operation: 'upload' })).toBe(uploads + 1);
    expect((await fetch(url('4001'), { headers: bearer })).status).toBe(404);
  });
});
