import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RemoteClient } from '../../../src/cli/remote/client.js';
import { nodeHttpSend } from '../../../src/cli/remote/http-send.js';
import { RemoteUnavailableError } from '../../../src/cli/errors.js';

// The node:http transport against a real loopback server: the same client behaviour as over fetch.
let server: Server;
let base = '';
const seen: Array<{ method: string; url: string; auth: string | undefined; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
      if (req.url === '/v1/negotiate/batch') {
        const { items } = JSON.parse(body) as { items: Array<{ hash: string }> };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ results: items.map(() => ({ status: 'missing' })) }));
      } else if (req.url === '/blob') res.end('0123456789');
      else if (req.url === '/hang') setTimeout(() => res.end('late'), 500);
      else {
        res.statusCode = 401;
        res.end(JSON.stringify({ code: 'unauthorized', message: 'unknown token' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const client = (timeoutMs = 1000): RemoteClient => new RemoteClient({ url: base, token: 'tok', timeoutMs, fetch: globalThis.fetch, send: nodeHttpSend() });

describe('node:http transport', () => {
  it('negotiates with the bearer token and JSON body, and downloads verified bytes', async () => {
    const c = client();
    expect(await c.negotiateBatch([{ hash: 'k1', action: 'download', namespace: 'web' }, { hash: 'k2', action: 'download', namespace: 'web' }])).toEqual([
      { status: 'missing' },
      { status: 'missing' },
    ]);
    const last = seen.at(-1);
    expect(last).toMatchObject({ method: 'POST', url: '/v1/negotiate/batch', auth: 'Bearer tok' });
    expect(JSON.parse(last?.body ?? '')).toEqual({ items: [{ hash: 'k1', action: 'download', namespace: 'web' }, { hash: 'k2', action: 'download', namespace: 'web' }] });
    const bytes = Buffer.from('0123456789');
    const sha256 = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
    expect(await c.fetchBytes(`${base}/blob`, { sha256, size: 10 }, () => undefined)).toEqual(bytes);
  });

  it('sorts error statuses, refused connections and timeouts into "remote unavailable"', async () => {
    await expect(client().capabilities()).rejects.toThrow(/HTTP 401 \(unauthorized: unknown token\)/);
    const closed = new RemoteClient({ url: 'http://127.0.0.1:1', token: '', timeoutMs: 1000, fetch: globalThis.fetch, send: nodeHttpSend() });
    await expect(closed.capabilities()).rejects.toThrow(/ECONNREFUSED/);
    await expect(closed.capabilities()).rejects.toBeInstanceOf(RemoteUnavailableError);
    // `#` turns the API path into a fragment: the request goes to /hang, which answers too late.
    const slow = new RemoteClient({ url: `${base}/hang#`, token: '', timeoutMs: 100, fetch: globalThis.fetch, send: nodeHttpSend() });
    await expect(slow.capabilities()).rejects.toThrow(/timed out/);
  });
});
