import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postJson } from '../helpers/http.js';

/**
 * Issue 9, "Also fix": a client sending its headers or body slowly, with or without a valid token,
 * held its connection past 75 s. Real sockets against a gateway configured with one-second
 * limits: each slow client must lose its connection within a few seconds, while a streamed
 * upload that keeps moving may take longer than the body limit.
 */
const LIMITS = { headersTimeout: 1, bodyTimeout: 1, uploadRateWindow: 1, uploadMinRate: 1024 };
/** Limit + one sweep period + scheduling slack; far below anything a slow client used to get. */
const CUT_WITHIN_MS = 3000;

interface RawClient {
  readonly socket: Socket;
  received(): string;
  /** Milliseconds from connect to close. */
  readonly closed: Promise<number>;
}

async function rawClient(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const opened = Date.now();
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  return { socket, received: () => data, closed };
}

/** Writes `text` one piece every `everyMs` until the socket closes or the text runs out. */
function trickle(c: RawClient, text: string | Buffer, pieceBytes: number, everyMs: number): { stop(): void } {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text);
  let offset = 0;
  const timer = setInterval(() => {
    if (c.socket.destroyed || offset >= buf.length) return clearInterval(timer);
    c.socket.write(buf.subarray(offset, (offset += pieceBytes)));
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}

/** `p`'s value, or Infinity if it takes longer than `ms`. */
async function within(p: Promise<number>, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<number>((resolve) => (timer = setTimeout(() => resolve(Infinity), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('slow clients lose their connection', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local', config: { http: LIMITS } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('headers sent slowly: cut after the headers timeout', async () => {
    const c = await rawClient(gw.url);
    const t = trickle(c, `POST /v1/negotiate HTTP/1.1\r\nHost: x\r\n${'X-Slow: y\r\n'.repeat(200)}`, 3, 200);
    const ms = await within(c.closed, CUT_WITHIN_MS + 2000);
    t.stop();
    expect(ms).toBeLessThan(CUT_WITHIN_MS);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a JSON body sent slowly with a valid token: cut after the body timeout with a 408', async () => {
    const c = await rawClient(gw.url);
    const body = JSON.stringify({ hash: uniqueHash(), action: 'download', namespace: 'default' }).padEnd(400, ' ');
    c.socket.write(
      `POST /v1/negotiate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${gw.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const t = trickle(c, body, 1, 200);
    const ms = await within(c.closed, CUT_WITHIN_MS + 2000);
    t.stop();
    expect(ms).toBeLessThan(CUT_WITHIN_MS);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it.each([
    ['no token', '', '/v1/negotiate'],
    ['a bad token', 'Authorization: Bearer nope\r\n', '/v1/negotiate'],
    ['a route that never reads bodies', `Authorization: Bearer placeholder\r\n`, '/healthz'],
  ])('a body sent slowly with %s: answered, then the connection is closed', async (_label, auth, path) => {
    const c = await rawClient(gw.url);
    c.socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
    );
    const t = trickle(c, 'x'.repeat(1000), 1, 100);
    const ms = await within(c.closed, CUT_WITHIN_MS + 2000);
    t.stop();
    expect(ms).toBeLessThan(CUT_WITHIN_MS);
    expect(c.received()).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(c.received()).toMatch(/\r\nConnection: close\r\n/i);
  });

  /** A signed local upload URL for `a`, as a raw request head. */
  async function uploadHead(a: ReturnType<typeof artifact>): Promise<string> {
    const up = await postJson(`${gw.url}/v1/negotiate`, { hash: uniqueHash(), action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 }, gw.token);
    expect(up.body.status).toBe('upload_needed');
    const url = new URL(up.body.url as string);
    const headers = Object.entries(up.body.headers as Record<string, string>).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`;
  }

  it('a streamed upload that keeps moving may take longer than the body timeout', async () => {
    const a = artifact(randomBytes(48 * 1024));
    const c = await rawClient(gw.url);
    const started = Date.now();
    c.socket.write(await uploadHead(a));
    // 4 KiB every 200 ms: 20 KiB/s, above the 1 KiB/s minimum, 2.4 s in all.
    trickle(c, a.body, 4096, 200);
    while (!/\r\n\r\n/.test(c.received()) && !c.socket.destroyed) await new Promise((r) => setTimeout(r, 50));
    expect(c.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(Date.now() - started).toBeGreaterThan(2000);
    c.socket.destroy();
  });

  it('a streamed upload that stalls: cut after the rate window', async () => {
    const a = artifact(randomBytes(48 * 1024));
    const c = await rawClient(gw.url);
    c.socket.write(await uploadHead(a));
    c.socket.write(a.body.subarray(0, 4096));
    expect(await within(c.closed, CUT_WITHIN_MS + 2000)).toBeLessThan(CUT_WITHIN_MS);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('connections per process are capped', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local', config: { http: { maxConnections: 2 } } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('refuses connections past the cap at once, and takes new ones when a slot frees', async () => {
    const held = [await rawClient(gw.url), await rawClient(gw.url)];
    const extra = await rawClient(gw.url);
    extra.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await within(extra.closed, 2000)).toBeLessThan(2000);
    expect(extra.received()).toBe('');
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 100));
    const next = await rawClient(gw.url);
    next.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await within(next.closed, 2000);
    expect(next.received()).toMatch(/^HTTP\/1\.1 200/);
    held[1]!.socket.destroy();
  });
});
