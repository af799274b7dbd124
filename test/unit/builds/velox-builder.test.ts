import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { BuildFailure } from '../../../src/builds/build-failure.js';
import { parseBuildRequest } from '../../../src/builds/build-request-schema.js';
import { buildKey, canonicalRequest } from '../../../src/builds/canonical-request.js';
import { createVeloxBuilder } from '../../../src/builds/builders/velox-builder.js';
import { startVeloxStandIn, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { validRequest } from '../../fixtures/builds/requests.js';

// Velox needs Go and the internet: the builder talks to a stand-in speaking its Connect JSON wire
// format, or to bare servers answering the odd things a network can answer.
const canonical = canonicalRequest(parseBuildRequest(validRequest({ race: true })));
const input = (lines: string[] = []) => ({
  key: buildKey(canonical),
  canonical,
  requestId: 'req-1',
  forceRebuild: false,
  signal: AbortSignal.timeout(5000),
  timeoutMs: 4000,
  onLog: (l: readonly string[]) => void lines.push(...l),
});

let velox: VeloxStandIn | undefined;
let server: Server | undefined;
afterEach(async () => {
  await velox?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  velox = undefined;
  server = undefined;
});

async function bare(status: number, body: string, type = 'text/html'): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function failure(url: string): Promise<BuildFailure> {
  const builder = createVeloxBuilder({ url });
  try {
    await builder.build(input());
  } catch (err) {
    expect(err).toBeInstanceOf(BuildFailure);
    return err as BuildFailure;
  } finally {
    await builder.close();
  }
  throw new Error('expected a failure');
}

describe('velox builder', () => {
  it('speaks Connect JSON and returns the shared file and logs', async () => {
    velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`) });
    const builder = createVeloxBuilder({ url: `${velox.url}/` });
    const lines: string[] = [];
    const out = await builder.build(input(lines));
    await builder.close();
    expect(out.path.startsWith(velox.options.outDir)).toBe(true);
    expect(lines).toEqual(['velox: building v2025.1.2', 'velox: done']);
    const call = velox.calls[0];
    expect(call?.headers).toMatchObject({ 'content-type': 'application/json', 'connect-protocol-version': '1', 'connect-timeout-ms': '4000' });
    expect(call?.body).toMatchObject({ request_id: 'req-1', race: true, force_rebuild: false, target_platform: { os: 'linux', arch: 'amd64' } });
  });

  it.each([
    ['already_exists', true],
    ['unavailable', true],
    ['internal', true],
    ['resource_exhausted', true],
    ['invalid_argument', false],
    ['failed_precondition', false],
    ['permission_denied', false],
  ] as const)('classifies Connect code %s as retryable=%s', async (code, retryable) => {
    velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), failures: [{ code, message: `${code} happened` }] });
    const f = await failure(velox.url);
    expect(f.retryable).toBe(retryable);
    expect(f.message).toBe(`Velox: ${code}: ${code} happened`);
  });

  it('treats a non-Connect 502 (a proxy in between) as transient', async () => {
    const f = await failure(await bare(502, '<html>bad gateway</html>'));
    expect(f.retryable).toBe(true);
    expect(f.message).toContain('unavailable');
  });

  it('treats an unreachable server as transient', async () => {
    const f = await failure('http://127.0.0.1:9');
    expect(f).toMatchObject({ code: 'builder_unavailable', retryable: true });
  });

  it('fails permanently when the answered path is not on a shared volume', async () => {
    const f = await failure(await bare(200, JSON.stringify({ path: '/nonexistent/velox/rr', logs: '' }), 'application/json'));
    expect(f.retryable).toBe(false);
    expect(f.message).toContain('share that volume');
  });
});
