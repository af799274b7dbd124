import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { BuildFailure } from '../../../src/builds/build-failure.js';
import { parseBuildRequest } from '../../../src/builds/build-request-schema.js';
import { buildKey, canonicalRequest } from '../../../src/builds/canonical-request.js';
import { createVeloxBuilder, type VeloxBuilderOptions } from '../../../src/builds/builders/velox-builder.js';
import type { VeloxCapabilityCheck } from '../../../src/builds/builders/velox-capabilities.js';
import { startVeloxStandIn, VELOX_FAILURES, type ConnectFailure, type StandInOptions, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { validRequest } from '../../fixtures/builds/requests.js';

// Velox needs Go and the internet: the builder talks to a stand-in that follows Velox's server.go
// (test/helpers/builds-velox-stand-in.ts), or to bare servers answering what a network can answer.
const input = (overrides: Record<string, unknown> = {}, lines: string[] = [], timeoutMs = 4000) => {
  const canonical = canonicalRequest(parseBuildRequest(validRequest(overrides)));
  return {
    key: buildKey(canonical),
    canonical,
    requestId: randomUUID(),
    forceRebuild: false,
    signal: AbortSignal.timeout(10_000),
    timeoutMs,
    onLog: (l: readonly string[]) => void lines.push(...l),
  };
};
const fastBusy = { busyPolicy: { maxAttempts: 1, initialDelay: 20, maxDelay: 40, backoffMultiplier: 2 } };

let velox: VeloxStandIn | undefined;
let server: Server | undefined;
afterEach(async () => {
  await velox?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  velox = undefined;
  server = undefined;
});

async function standIn(opts: Partial<StandInOptions> = {}): Promise<VeloxStandIn> {
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), ...opts });
  return velox;
}

async function bare(status: number, body: string, type = 'text/html'): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': type });
    res.end(body);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function failure(opts: VeloxBuilderOptions, build = input()): Promise<BuildFailure> {
  const builder = createVeloxBuilder(opts);
  try {
    await builder.build(build);
  } catch (err) {
    expect(err).toBeInstanceOf(BuildFailure);
    return err as BuildFailure;
  } finally {
    await builder.close();
  }
  throw new Error('expected a failure');
}

describe('velox builder', () => {
  it('speaks Connect JSON; a fresh Velox v3 build has no logs, a cached one says so', async () => {
    const v = await standIn();
    const builder = createVeloxBuilder({ url: `${v.url}/` });
    const lines: string[] = [];
    const req = input({ race: true }, lines);
    const out = await builder.build(req);
    expect(out.path.startsWith(v.options.outDir)).toBe(true);
    expect(lines).toEqual([]);
    await builder.build({ ...req, requestId: randomUUID() });
    await builder.close();
    expect(lines).toEqual(['cached output, logs are available only on the first build']);
    expect(v.calls.map((c) => c.answer)).toEqual(['ok', 'cached']);
    expect(v.calls[0]?.headers).toMatchObject({ 'content-type': 'application/json', 'connect-protocol-version': '1' });
    // What is left of the attempt's 4 s once the capability probe answered.
    expect(Number(v.calls[0]?.headers['connect-timeout-ms'])).toBeGreaterThan(3000);
    expect(Number(v.calls[0]?.headers['connect-timeout-ms'])).toBeLessThanOrEqual(4000);
    expect(v.calls[0]?.body).toMatchObject({ request_id: req.requestId, race: true, force_rebuild: false, target_platform: { os: 'linux', arch: 'amd64' } });
  });

  it.each<[string, ConnectFailure, boolean, string]>([
    ['a failed build (go mod tidy)', VELOX_FAILURES.goModTidy(), false, 'build_failed'],
    ['a tag that does not exist (template 404)', VELOX_FAILURES.templateNotFound(), false, 'build_failed'],
    ['the module proxy unreachable (dial tcp ... i/o timeout)', VELOX_FAILURES.proxyDown(), true, 'builder_unavailable'],
    ['GitHub rate-limiting the template download (429)', VELOX_FAILURES.templateRateLimited(), true, 'builder_unavailable'],
    ['request validation', { code: 'invalid_argument', message: 'validation error:\n - rr_version: value is required [required]' }, false, 'builder_rejected'],
    ['unavailable', { code: 'unavailable', message: 'server shutting down' }, true, 'builder_unavailable'],
    ['deadline_exceeded', { code: 'deadline_exceeded', message: 'deadline exceeded' }, true, 'builder_unavailable'],
  ])('classifies %s: retryable=%s', async (_name, scripted, retryable, code) => {
    const v = await standIn({ failures: [scripted] });
    const f = await failure({ url: v.url });
    expect(f).toMatchObject({ retryable, code });
    expect(f.message).toBe(`Velox: ${scripted.code}: ${scripted.message.split('\n')[0] ?? ''}`);
  });

  it('treats a 5xx without a Connect body (a proxy in between) as transient', async () => {
    const url = await bare(502, '<html>bad gateway</html>');
    const f = await failure({ url, capabilities: v3Caps() });
    expect(f).toMatchObject({ retryable: true, code: 'builder_unavailable' });
  });

  it('names a wrong VC_VELOX_URL (Go plain-text 404), permanently', async () => {
    const v = await standIn();
    const f = await failure({ url: `${v.url}/not-velox`, capabilities: v3Caps() });
    expect(f).toMatchObject({ retryable: false, code: 'builder_rejected' });
    expect(f.message).toContain('check VC_VELOX_URL');
  });

  it('treats an unreachable server as transient, and probes its capabilities again afterwards', async () => {
    let invalidated = 0;
    const caps = { ...v3Caps(), invalidate: () => void invalidated++ } as unknown as VeloxCapabilityCheck;
    const f = await failure({ url: 'http://127.0.0.1:9', capabilities: caps });
    expect(f).toMatchObject({ code: 'builder_unavailable', retryable: true });
    expect(invalidated).toBe(1);
  });

  it('sends Connect-Timeout-Ms; Velox v3 ends the build at that deadline (internal, retried)', async () => {
    const v = await standIn({ delayMs: 3000 });
    const f = await failure({ url: v.url }, input({}, [], 300));
    expect(f.message).toBe('Velox: internal: building plugins: go mod tidy: context deadline exceeded');
    expect(f.retryable).toBe(true);
    expect(v.builds).toBe(0);
    expect(v.running).toBe(0);
  });

  it('fails permanently when the answered path is not on a shared volume', async () => {
    const url = await bare(200, JSON.stringify({ path: '/nonexistent/velox/rr', logs: '' }), 'application/json');
    const f = await failure({ url, capabilities: v3Caps() });
    expect(f.retryable).toBe(false);
    expect(f.message).toContain('share that volume');
  });
});

describe('velox builder: already_exists (an identical build runs on that Velox)', () => {
  it('waits for the other build and takes its result', async () => {
    const v = await standIn({ delayMs: 400 });
    const other = createVeloxBuilder({ url: v.url });
    const ours = createVeloxBuilder({ url: v.url, ...fastBusy });
    const first = other.build(input());
    await new Promise((r) => setTimeout(r, 100));
    const lines: string[] = [];
    const out = await ours.build(input({}, lines));
    expect((await first).path).toBe(out.path);
    await Promise.all([other.close(), ours.close()]);
    const answers = v.calls.map((c) => c.answer);
    expect(answers[0]).toBe('ok');
    expect(answers.at(-1)).toBe('cached');
    expect(answers.filter((a) => a === 'already_exists').length).toBeGreaterThanOrEqual(2);
    expect(v.builds).toBe(1);
    expect(lines[0]).toMatch(/is already in progress; asking again in 20 ms$/);
  });

  it('gives up after VC_VELOX_BUSY_WAIT, permanently (no second build of the same thing)', async () => {
    const v = await standIn({ delayMs: 2000 });
    const other = createVeloxBuilder({ url: v.url });
    const first = other.build(input());
    await new Promise((r) => setTimeout(r, 100));
    const f = await failure({ url: v.url, ...fastBusy, busyWaitMs: 150 });
    expect(f).toMatchObject({ code: 'builder_busy', retryable: false });
    const polls = v.calls.filter((c) => c.answer === 'already_exists').length;
    expect(polls).toBeGreaterThanOrEqual(3);
    expect(polls).toBeLessThanOrEqual(6);
    await first;
    await other.close();
  });
});

function v3Caps(): VeloxCapabilityCheck {
  const caps = { generation: 'v3' as const, detail: 'test' };
  return { get: () => Promise.resolve(caps), invalidate: () => undefined } as unknown as VeloxCapabilityCheck;
}
