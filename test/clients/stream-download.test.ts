import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';
import { uniqueNamespace, watchReads, type StoreRead } from './stream-download-harness.js';

/**
 * The streamed download path (the plain HTTP cache's routes, whose hits always stream), on a real
 * gateway over Ceph RGW: ranges, headers, a client that leaves, a slow client, and a store outage.
 */
describe('streamed downloads', () => {
  let gw: ClientGateway;
  let reads: StoreRead[];
  const ns = uniqueNamespace('dl');
  const big = randomBytes(32 * 1024 * 1024);
  const small = randomBytes(100_000);

  beforeAll(async () => {
    gw = await startClientGateway();
    reads = watchReads(gw.gw.gateway.driver);
    expect((await put(`/ns/${ns}/http/small/key`, small)).status).toBe(200);
    expect((await put(`/ns/${ns}/http/big/key`, big)).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await gw?.close();
  });

  const auth = (): Record<string, string> => ({ authorization: `Bearer ${gw.token}` });
  const put = async (path: string, body: Buffer): Promise<Response> => {
    const res = await fetch(`${gw.url}${path}`, { method: 'PUT', headers: auth(), body });
    await res.arrayBuffer();
    return res;
  };
  const get = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
    const res = await fetch(`${gw.url}${path}`, { method, headers: { ...auth(), ...headers } });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };

  it('answers a hit with its length, digest and X-Cache: HIT; one range as 206; counts hits and bytes streamed', async () => {
    const hits = await gw.counter('vc_cache_hits_total', { protocol: 'http' });
    const bytes = await gw.counter('vc_protocol_bytes_total', { protocol: 'http', direction: 'down', mode: 'streamed' });
    const whole = await get(`/ns/${ns}/http/small/key`);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(small)).toBe(true);
    expect(whole.headers.get('content-length')).toBe(String(small.length));
    expect(whole.headers.get('etag')).toBe(`"${createHash('sha256').update(small).digest('hex')}"`);
    expect(whole.headers.get('x-cache')).toBe('HIT');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('location')).toBeNull();

    const cases: [string, number, number][] = [
      ['bytes=10-19', 10, 19],
      ['bytes=-5', small.length - 5, small.length - 1],
      ['bytes=99990-', 99_990, small.length - 1],
      ['bytes=99990-200000', 99_990, small.length - 1],
    ];
    for (const [range, start, end] of cases) {
      const part = await get(`/ns/${ns}/http/small/key`, { range });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes ${start}-${end}/${small.length}`);
      expect(part.body.equals(small.subarray(start, end + 1))).toBe(true);
    }
    const head = await get(`/ns/${ns}/http/small/key`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(small.length));
    expect(head.body.length).toBe(0);

    expect(await gw.counter('vc_cache_hits_total', { protocol: 'http' })).toBe(hits + 6);
    expect(await gw.counter('vc_protocol_bytes_total', { protocol: 'http', direction: 'down', mode: 'streamed' })).toBe(
      bytes + small.length + 10 + 5 + 10 + 10,
    );
  });

  it('answers an unsatisfiable range 416 with bytes */size, and several ranges with the whole body', async () => {
    for (const range of ['bytes=100000-', 'bytes=200000-300000', 'bytes=-0']) {
      const r = await get(`/ns/${ns}/http/small/key`, { range });
      expect(r.status).toBe(416);
      expect(r.headers.get('content-range')).toBe(`bytes */${small.length}`);
    }
    for (const range of ['bytes=0-1,5-6', 'bytes=0-1, 3-4', 'items=0-5']) {
      const r = await get(`/ns/${ns}/http/small/key`, { range });
      expect(r.status).toBe(200);
      expect(r.body.equals(small)).toBe(true);
    }
  });

  it('answers a miss 404 with X-Cache: MISS', async () => {
    const misses = await gw.counter('vc_cache_misses_total', { protocol: 'http' });
    const r = await get(`/ns/${ns}/http/no/such/key`);
    expect(r.status).toBe(404);
    expect(r.headers.get('x-cache')).toBe('MISS');
    expect(await gw.counter('vc_cache_misses_total', { protocol: 'http' })).toBe(misses + 1);
  });

  it('stops reading the store as soon as the client leaves mid-download', async () => {
    const before = reads.length;
    const res = await open(`/ns/${ns}/http/big/key`);
    let received = 0;
    await new Promise<void>((resolve) => {
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= 1024 * 1024) {
          res.destroy();
          resolve();
        }
      });
    });
    const read = await waitFor(() => reads.slice(before).find((r) => r.closed));
    expect(read.ended).toBe(false);
    expect(read.pulled).toBeLessThan(big.length / 2);
    // Nothing more arrives from the store once the stream is closed.
    const pulled = read.pulled;
    await settled(read);
    expect(read.pulled).toBe(pulled);
  });

  it('reads the store only as fast as a slow client takes the bytes, whatever the size', async () => {
    const before = reads.length;
    const res = await open(`/ns/${ns}/http/big/key`);
    res.pause();
    const read = await waitFor(() => reads[before]);
    // The client takes nothing: the store read stops once the socket buffers and the stream's
    // high-water marks are full (a few MB at most), far below the 32 MB body.
    await settled(read);
    expect(read.pulled).toBeLessThan(8 * 1024 * 1024);
    expect(read.ended).toBe(false);
    const hash = createHash('sha256');
    res.on('data', (chunk: Buffer) => hash.update(chunk));
    res.resume();
    await new Promise((resolve) => res.once('end', resolve));
    expect(hash.digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    expect(read.ended).toBe(true);
  });

  it('cuts the answer short when the store fails mid-download: a partial body never looks complete', async () => {
    const before = reads.length;
    const res = await open(`/ns/${ns}/http/big/key`);
    res.pause();
    const read = await waitFor(() => reads[before]);
    await settled(read);
    gw.proxy?.set({ kind: 'down' });
    let received = 0;
    const outcome = await new Promise<string>((resolve) => {
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      res.once('end', () => resolve('end'));
      res.once('error', () => resolve('error'));
      res.once('aborted', () => resolve('error'));
      res.resume();
    }).finally(() => gw.proxy?.set({ kind: 'pass' }));
    expect(outcome).toBe('error');
    expect(received).toBeLessThan(big.length);
    expect(read.ended).toBe(false);
  });

  it('answers 503 with Retry-After while the store is down (never a miss), and serves again after', async () => {
    gw.proxy?.set({ kind: 'down' });
    try {
      for (const [method, path] of [
        ['GET', `/ns/${ns}/http/small/key`],
        ['GET', `/ns/${ns}/http/never/stored`],
        ['HEAD', `/ns/${ns}/http/small/key`],
      ] as const) {
        const r = await get(path, {}, method);
        expect(r.status).toBe(503);
        expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(r.headers.get('x-cache')).toBeNull();
      }
      expect((await put(`/ns/${ns}/http/during/outage`, randomBytes(1000))).status).toBe(503);
    } finally {
      gw.proxy?.set({ kind: 'pass' });
    }
    expect((await get(`/ns/${ns}/http/during/outage`)).status).toBe(404);
    expect((await get(`/ns/${ns}/http/small/key`)).body.equals(small)).toBe(true);
  }, 60_000);

  function open(path: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request(`${gw.url}${path}`, { headers: auth() }, (res) => {
        expect(res.statusCode).toBe(200);
        resolve(res);
      });
      req.on('error', reject);
      req.end();
    });
  }
});

/** Polls until `get` returns something (conditions on real I/O, not fixed sleeps). */
async function waitFor<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the bytes arriving from the store stop moving (the same count over 300 ms). */
async function settled(read: StoreRead): Promise<void> {
  let last = -1;
  let still = 0;
  while (still < 15) {
    await new Promise((r) => setTimeout(r, 20));
    still = read.pulled === last ? still + 1 : 0;
    last = read.pulled;
  }
}
