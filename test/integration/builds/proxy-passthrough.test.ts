import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startBuildGateway, type BuildGateway } from '../../helpers/builds-gateway.js';
import { startVeloxStandIn, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { uniqueBucket } from '../../helpers/gateway.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * Proxy mode as a reverse proxy: everything that is not an intercepted build passes, whatever
 * HTTP does with it. A real node:http upstream on loopback records what reached it; the gateway
 * runs on the suite's Ceph RGW with the in-process queue and a Velox stand-in (Velox needs Go).
 */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bytes: number;
  readonly sha256: string;
}
let upstream: Server;
let upstreamUrl: string;
const seen: Seen[] = [];
const builds = new Map<string, Record<string, unknown>>();
let velox: VeloxStandIn;
let gw: BuildGateway;
let prefixed: BuildGateway;
let behindProxy: BuildGateway;

function answerBuild(req: IncomingMessage, res: import('node:http').ServerResponse, build: Record<string, unknown>): void {
  const json = Buffer.from(JSON.stringify(build));
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? gzipSync(json) : json;
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': body.length,
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    // Any non-empty value intercepts, as in the Velox middleware.
    'x-velox-build': '1',
    'set-cookie': ['session=abc; Path=/', 'seen=1; Path=/'],
    'content-disposition': 'attachment; filename="rr"',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const url = req.url ?? '/';
      seen.push({ method: req.method ?? '', url, headers: req.headers, bytes, sha256: hash.digest('hex') });
      const build = builds.get(url.replace(/^\/app/, ''));
      if (build) {
        answerBuild(req, res, build);
        return;
      }
      const text = `${req.method ?? ''} ${url} ${bytes}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text), 'x-upstream': 'yes' });
      res.end(req.method === 'HEAD' ? undefined : text);
    });
  });
  // A WebSocket endpoint that echoes whatever comes after the handshake (RFC 6455 §4.2.2 accept key).
  upstream.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nX-Path: ${req.url ?? ''}\r\n\r\n`);
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), delayMs: 200 });
  const bucket = uniqueBucket();
  // No Redis: the in-process queue and worker (the embedded default) are enough for the proxy.
  gw = await startBuildGateway({ bucket, builds: { veloxUrl: velox.url, upstreamUrl } });
  prefixed = await startBuildGateway({ bucket, builds: { veloxUrl: velox.url, upstreamUrl: `${upstreamUrl}/app/` } });
  behindProxy = await startBuildGateway({
    bucket,
    builds: { veloxUrl: velox.url, upstreamUrl },
    config: { http: { trustedProxies: ['127.0.0.1/8'] } },
  });
});

afterAll(async () => {
  await Promise.all([gw?.close(), prefixed?.close(), behindProxy?.close()]);
  await velox?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
});

function lastSeen(url: string): Seen {
  const found = seen.filter((s) => s.url === url).at(-1);
  if (!found) throw new Error(`the upstream never saw ${url}`);
  return found;
}

/** node:http rather than fetch: fetch neither sends `Expect` nor lets a test wait for the 100. */
function send(
  url: string,
  opts: { method: string; headers?: Record<string, string>; body?: Buffer; waitForContinue?: boolean },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer; continued: boolean }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = request(url, { method: opts.method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), continued }));
    });
    req.on('error', reject);
    if (opts.waitForContinue) {
      req.on('continue', () => {
        continued = true;
        req.end(opts.body);
      });
    } else {
      req.end(opts.body);
    }
  });
}

describe('the gateway as a reverse proxy', () => {
  it('streams a 3 MB upload sent with Expect: 100-continue (as curl does past 1 MiB)', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const res = await send(`${gw.url}/upload`, {
      method: 'PUT',
      headers: { expect: '100-continue', 'content-length': String(body.length) },
      body,
      waitForContinue: true,
    });
    expect(res.continued).toBe(true);
    expect(res.status).toBe(200);
    const got = lastSeen('/upload');
    expect(got).toMatchObject({ method: 'PUT', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(got.headers.expect).toBeUndefined();
  });

  it('tunnels a WebSocket to the upstream and echoes through it', async () => {
    const key = randomBytes(16).toString('base64');
    const { socket, headers } = await new Promise<{ socket: Socket; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const req = request(`${gw.url}/ws/chat?room=1`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13' },
      });
      req.on('upgrade', (res, s: Socket) => resolve({ socket: s, headers: res.headers }));
      req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', reject);
      req.end();
    });
    expect(headers['sec-websocket-accept']).toBe(createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64'));
    expect(headers['x-path']).toBe('/ws/chat?room=1');
    // A masked text frame "hello" (RFC 6455 §5.3); the upstream echoes the bytes back.
    const mask = randomBytes(4);
    const payload = Buffer.from('hello').map((b, i) => b ^ (mask[i % 4] as number));
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | 5]), mask, payload]);
    const echoed = await new Promise<Buffer>((resolve) => {
      let got = Buffer.alloc(0);
      socket.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.length >= frame.length) resolve(got);
      });
      socket.write(frame);
    });
    expect(echoed.equals(frame)).toBe(true);
    socket.destroy();
  });

  it('keeps a path prefix of VC_UPSTREAM_URL', async () => {
    const res = await fetch(`${prefixed.url}/index.php?x=1`);
    expect(await res.text()).toBe('GET /app/index.php?x=1 0');
  });

  it('answers HEAD with the upstream headers and no body, and stays up', async () => {
    const res = await send(`${gw.url}/page`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['content-length']).toBe(String('HEAD /page 0'.length));
    expect(res.body.length).toBe(0);
    // The HEAD answer's Content-Length once took the process down (undici's body, destroyed by Koa
    // after a HEAD, emitted an error nobody listened to); the next request on a kept-alive
    // connection then got "socket hang up".
    await new Promise((r) => setTimeout(r, 100));
    const next = await send(`${gw.url}/page`, { method: 'GET' });
    expect(next.body.toString()).toBe('GET /page 0');
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('replaces an untrusted client\'s X-Forwarded-*, and appends to a trusted proxy\'s', async () => {
    const spoofed = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    await send(`${gw.url}/who`, { method: 'GET', headers: spoofed });
    expect(lastSeen('/who').headers).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' });
    expect(lastSeen('/who').headers['x-forwarded-host']).toBe(new URL(gw.url).host);

    await send(`${behindProxy.url}/who-trusted`, { method: 'GET', headers: spoofed });
    expect(lastSeen('/who-trusted').headers).toMatchObject({
      'x-forwarded-for': '6.6.6.6, 127.0.0.1',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
    });
  });
});

describe('interception, as the Velox middleware did it', () => {
  it('reads a gzip-encoded build request, keeps the upstream headers on the redirect, and answers HEAD', async () => {
    builds.set('/download/rr', uniqueRequest(`proxy-gzip-${randomUUID()}`));
    const miss = await send(`${gw.url}/download/rr`, { method: 'GET', headers: { 'accept-encoding': 'gzip, br' } });
    expect(miss.status).toBe(302);
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(lastSeen('/download/rr').headers['accept-encoding']).toBe('gzip, br');
    expect(miss.headers['set-cookie']).toEqual(['session=abc; Path=/', 'seen=1; Path=/']);
    expect(miss.headers['content-disposition']).toBe('attachment; filename="rr"');
    expect(miss.headers['content-encoding']).toBeUndefined();
    const location = String(miss.headers.location);
    expect((await fetch(location)).status).toBe(200);

    // HEAD: the upstream's HEAD answer carries no body, so the gateway asks it as GET.
    const head = await send(`${gw.url}/download/rr`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
    expect(head.status).toBe(302);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.body.length).toBe(0);
    const asked = seen.filter((s) => s.url === '/download/rr').slice(-2).map((s) => s.method);
    expect(asked).toEqual(['HEAD', 'GET']);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('intercepts under a path prefix too', async () => {
    builds.set('/download/prefixed', uniqueRequest(`proxy-prefix-${randomUUID()}`));
    const res = await send(`${prefixed.url}/download/prefixed`, { method: 'GET' });
    expect(res.status).toBe(302);
    expect(lastSeen('/app/download/prefixed').method).toBe('GET');
  });
});
