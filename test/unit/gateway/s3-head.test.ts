import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { ClientClosedRequestError } from '../../../src/errors.js';
import { StorageUnavailableError } from '../../../src/storage/errors.js';
import { S3Head } from '../../../src/storage/s3/s3-head.js';
import { S3UrlSigner } from '../../../src/storage/s3/s3-url-signer.js';

/** An S3Head for bucket `bucket` on a local server, with test credentials. */
function headOn(server: Server | HttpServer, timeoutMs: number): S3Head {
  const { port } = server.address() as AddressInfo;
  const signer = new S3UrlSigner(
    { protocol: 'http:', hostname: '127.0.0.1', port, basePath: '/bucket' },
    { credentials: () => Promise.resolve({ accessKeyId: 'test-key', secretAccessKey: 'test-secret' }), region: 'us-east-1' },
  );
  return new S3Head(signer, `http://127.0.0.1:${port}`, timeoutMs);
}

/** The store's HEAD when the store never answers: a timeout is an outage, a caller's abort is not. */
describe('S3Head against a store that accepts connections and never answers', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let head: S3Head;

  beforeAll(async () => {
    server = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    head = headOn(server, 300);
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await head.close().catch(() => undefined);
    await new Promise((r) => server.close(r));
  });

  it('reports a timeout as the store being unavailable', async () => {
    await expect(head.head('artifacts/default/k')).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('rejects with the abort reason when the caller gives up', async () => {
    const controller = new AbortController();
    const pending = head.head('artifacts/default/k2', controller.signal);
    setTimeout(() => controller.abort(new ClientClosedRequestError()), 20);
    await expect(pending).rejects.toBeInstanceOf(ClientClosedRequestError);
  });
});

/**
 * The store's HEAD answers sorted: a scripted HTTP server answers each key the way S3 would, or
 * breaks the way a failing store does. Only 200 is found and only 404 is missing.
 */
describe('S3Head answers', () => {
  let server: HttpServer;
  let head: S3Head;
  const seen: { method?: string; url?: string }[] = [];

  const script: Record<string, (res: ServerResponse) => void> = {
    found: (res) => res.writeHead(200, {
      'content-length': '5', 'last-modified': 'Sun, 22 Nov 2026 07:00:00 GMT',
      'x-amz-meta-sha256': 'a'.repeat(64), 'x-amz-meta-rr-version': 'v2025.1.0',
    }).end(),
    missing: (res) => res.writeHead(404, { 'content-type': 'application/xml', 'content-length': '231' }).end(),
    forbidden: (res) => res.writeHead(403, { 'content-length': '0' }).end(),
    broken: (res) => res.writeHead(500, { 'content-length': '0' }).end(),
    slowdown: (res) => res.writeHead(503, { 'content-length': '0' }).end(),
    foreign: (res) => res.writeHead(200, { 'content-length': '5' }).end(),
    reset: (res) => res.socket?.destroy(),
  };

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      seen.push({ method: req.method, url: req.url });
      const key = new URL(req.url ?? '/', 'http://x').pathname.split('/').pop() ?? '';
      (script[key] ?? script.missing!)(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    head = headOn(server, 2000);
  });
  afterAll(async () => {
    await head.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('sends a presigned HEAD for the key', async () => {
    await head.head('artifacts/default/missing');
    const last = seen.at(-1)!;
    expect(last.method).toBe('HEAD');
    expect(last.url).toMatch(/^\/bucket\/artifacts\/default\/missing\?X-Amz-Algorithm=AWS4-HMAC-SHA256&.*X-Amz-Signature=[0-9a-f]{64}$/);
  });

  it('reads size, digest, date and metadata from a 200', async () => {
    await expect(head.head('artifacts/default/found')).resolves.toEqual({
      kind: 'artifact',
      info: { size: 5, sha256: 'a'.repeat(64), createdAt: '2026-11-22T07:00:00.000Z', meta: { 'rr-version': 'v2025.1.0' } },
    });
  });

  it('reports an object without velocity metadata as bare bytes (the locator accepts those only as an ingested blob)', async () => {
    await expect(head.head('artifacts/default/foreign')).resolves.toEqual({ kind: 'bytes', size: 5 });
  });

  it('answers null (missing) for a 404 only', async () => {
    await expect(head.head('artifacts/default/missing')).resolves.toBeNull();
  });

  it.each([
    ['forbidden', /HTTP 403 \(check credentials, bucket policy and the clock\)/],
    ['broken', /HTTP 500/],
    ['slowdown', /HTTP 503/],
    ['reset', /HEAD artifacts\/default\/reset: /],
  ])('reports %s as the store being unavailable, never as missing', async (key, message) => {
    const err = await head.head(`artifacts/default/${key}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).message).toMatch(message);
  });

  it('keeps serving on the same pool after a failure', async () => {
    await head.head('artifacts/default/reset').catch(() => undefined);
    await expect(head.head('artifacts/default/missing')).resolves.toBeNull();
    await expect(head.head('artifacts/default/found')).resolves.toMatchObject({ info: { size: 5 } });
  });

  it('rejects at once, without a request, when the caller has already gone', async () => {
    const before = seen.length;
    const controller = new AbortController();
    controller.abort(new ClientClosedRequestError());
    await expect(head.head('artifacts/default/missing', controller.signal)).rejects.toBeInstanceOf(ClientClosedRequestError);
    expect(seen.length).toBe(before);
  });
});
