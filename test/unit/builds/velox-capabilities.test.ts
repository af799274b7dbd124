import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { BuildFailure } from '../../../src/builds/build-failure.js';
import { parseBuildRequest } from '../../../src/builds/build-request-schema.js';
import { buildKey, canonicalRequest } from '../../../src/builds/canonical-request.js';
import { VeloxCapabilityCheck } from '../../../src/builds/builders/velox-capabilities.js';
import { createVeloxBuilder, veloxEndpoint } from '../../../src/builds/builders/velox-builder.js';
import { startVeloxStandIn, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import type { VeloxGeneration } from '../../helpers/builds-velox-request.js';
import { harness, principal, type Harness } from '../../helpers/builds-harness.js';
import { uniqueRequest, validRequest } from '../../fixtures/builds/requests.js';

// A released Velox (up to v2025.2-beta.2) knows request fields 1-5 and connect-go drops the rest
// silently: the capability probe must keep v3-only fields away from it.
let velox: VeloxStandIn | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  await velox?.close();
  velox = undefined;
  h = undefined;
});

async function standIn(generation: VeloxGeneration): Promise<VeloxStandIn> {
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), generation });
  return velox;
}

async function attempt(v: VeloxStandIn, overrides: Record<string, unknown>) {
  const canonical = canonicalRequest(parseBuildRequest(validRequest(overrides)));
  const builder = createVeloxBuilder({ url: v.url });
  const lines: string[] = [];
  try {
    return await builder
      .build({ key: buildKey(canonical), canonical, requestId: randomUUID(), forceRebuild: false, signal: AbortSignal.timeout(5000), timeoutMs: 4000, onLog: (l) => void lines.push(...l) })
      .then((out) => ({ out, lines }));
  } finally {
    await builder.close();
  }
}

describe('Velox capability check', () => {
  it('tells a v3 server from a released one by its own validation, without building', async () => {
    for (const generation of ['v3', 'released'] as const) {
      const v = await standIn(generation);
      const caps = await new VeloxCapabilityCheck({ endpoint: veloxEndpoint(v.url) }).get();
      expect(caps.generation).toBe(generation);
      expect(v.calls).toHaveLength(0);
      expect(v.builds).toBe(0);
      expect(v.invalid).toHaveLength(1);
      await v.close();
      velox = undefined;
    }
  });

  it.each([
    ['replaces', { replaces: [{ old: 'github.com/a/b', new: 'github.com/c/d@v1.0.0' }] }],
    ['excludes', { excludes: [{ module: 'github.com/a/b', version: 'v1.0.0' }] }],
    ['race', { race: true }],
    ['debug', { debug: true }],
  ])('refuses %s for a released server: a clear permanent error, never sent to be built', async (field, overrides) => {
    const v = await standIn('released');
    const err = await attempt(v, overrides).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildFailure);
    expect(err).toMatchObject({ code: 'unsupported_request', retryable: false });
    expect((err as Error).message).toContain(`: ${field} (`);
    expect(v.calls).toHaveLength(0);
  });

  it('builds the same request on a v3 server, and a plain one on a released server (with its logs)', async () => {
    const v3 = await standIn('v3');
    await attempt(v3, { race: true, debug: true });
    expect(v3.calls[0]?.decoded).toMatchObject({ race: true, debug: true });
    await v3.close();
    const released = await standIn('released');
    const { lines } = await attempt(released, {});
    expect(released.builds).toBe(1);
    expect(lines).toEqual(['velox: building v2025.1.2', 'velox: done']);
  });

  it('refuses Windows for Velox v3 (which fails it as a build), builds it on a released server', async () => {
    const win = { target_platform: { os: 'windows', arch: 'amd64' } };
    const v3 = await standIn('v3');
    await expect(attempt(v3, win)).rejects.toMatchObject({ code: 'unsupported_request', message: expect.stringContaining('Windows') as unknown });
    expect(v3.calls).toHaveLength(0);
    await v3.close();
    const released = await standIn('released');
    const { out } = await attempt(released, win);
    expect(out.path.endsWith('rr.exe')).toBe(true);
  });

  it('probes once, shares the answer, and probes again after invalidate() (a reconnect)', async () => {
    const v = await standIn('v3');
    const check = new VeloxCapabilityCheck({ endpoint: veloxEndpoint(v.url) });
    await Promise.all([check.get(), check.get(), check.get()]);
    expect(v.invalid).toHaveLength(1);
    check.invalidate();
    await check.get();
    expect(v.invalid).toHaveLength(2);
  });

  it('does not keep a failed probe: an unreachable server is asked again', async () => {
    const check = new VeloxCapabilityCheck({ endpoint: veloxEndpoint('http://127.0.0.1:9') });
    await expect(check.get()).rejects.toMatchObject({ code: 'builder_unavailable', retryable: true });
    await expect(check.get()).rejects.toMatchObject({ code: 'builder_unavailable' });
  });
});

describe('the gateway refuses what its Velox cannot build (400, never queued)', () => {
  const alice = principal('alice');

  it.each([
    ['released', { race: true }, 'race'],
    ['v3', { target_platform: { os: 'windows', arch: 'amd64' } }, 'target_platform.os=windows'],
  ] as const)('a %s server: %j', async (generation, overrides, field) => {
    const v = await standIn(generation);
    h = await harness({ veloxUrl: v.url });
    const err = await h.service.submit(uniqueRequest(`refused-${generation}`, overrides), alice).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'unsupported_by_builder' });
    expect((err as Error).message).toContain(field);
    expect(await h.queue.depth()).toBe(0);
    expect(v.calls).toHaveLength(0);
    // What the server can build is still built.
    const ok = await h.service.submit(uniqueRequest(`accepted-${generation}`), alice);
    expect(ok.status).toMatch(/^(queued|building)$/);
  });

  it('queues the build when Velox does not answer: the worker checks again before building', async () => {
    h = await harness({ veloxUrl: 'http://127.0.0.1:9' }, { worker: false });
    const answer = await h.service.submit(uniqueRequest('unchecked', { race: true }), alice);
    expect(answer.status).toBe('queued');
  });
});
