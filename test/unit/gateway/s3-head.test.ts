import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ClientClosedRequestError } from '../../../src/errors.js';
import { StorageUnavailableError } from '../../../src/storage/errors.js';
import { S3Head } from '../../../src/storage/s3/s3-head.js';
import { S3UrlSigner } from '../../../src/storage/s3/s3-url-signer.js';

/** The store's HEAD when the store never answers: a timeout is an outage, a caller's abort is not. */
describe('S3Head against a store that accepts connections and never answers', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let head: S3Head;

  beforeAll(async () => {
    server = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const signer = new S3UrlSigner(
      { protocol: 'http:', hostname: '127.0.0.1', port, basePath: '/bucket' },
      { credentials: () => Promise.resolve({ accessKeyId: 'test-key', secretAccessKey: 'test-secret' }), region: 'us-east-1' },
    );
    head = new S3Head(signer, `http://127.0.0.1:${port}`, 300);
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
