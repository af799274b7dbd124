import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { harness, principal, type Harness } from '../../helpers/builds-harness.js';
import { startVeloxStandIn, VELOX_FAILURES, type ScriptedFailure, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * Retries by cause (docs/builds.md, "Retries"), counted as calls reaching a stand-in that follows
 * Velox's server.go: the build service, the in-process queue and a worker, 3 attempts at most,
 * backoff 20 ms doubling (small configured delays instead of long sleeps).
 */
let h: Harness | undefined;
let velox: VeloxStandIn | undefined;
afterEach(async () => {
  await h?.close();
  await velox?.close();
  h = undefined;
  velox = undefined;
});

const alice = principal('alice');
const times = (n: number, f: ScriptedFailure) => Array.from({ length: n }, () => f);

async function run(failures: ScriptedFailure[], raw: Record<string, unknown> = {}) {
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), failures: [...failures] });
  h = await harness({ veloxUrl: velox.url, maxAttempts: 3, initialDelay: 20, maxDelay: 40, backoffMultiplier: 2, ...raw });
  const answer = await h.service.submit(uniqueRequest(`retries-${randomUUID()}`), alice);
  const final = await h.finish((answer as { id: string }).id);
  return { final, velox };
}

describe('Velox retries by cause', () => {
  it.each<[string, ScriptedFailure]>([
    ['a dropped connection (transport error)', { drop: true }],
    ['a 502 without a Connect body', { status: 502, text: '<html>bad gateway</html>' }],
    ['unavailable', { code: 'unavailable', message: 'server is shutting down' }],
    ['deadline_exceeded', { code: 'deadline_exceeded', message: 'deadline exceeded' }],
    ['internal: the module proxy unreachable', VELOX_FAILURES.proxyDown()],
    ['internal: GitHub rate-limits the template download', VELOX_FAILURES.templateRateLimited()],
  ])('%s: retried up to max attempts (3 calls), with backoff', async (_name, failure) => {
    const { final, velox: v } = await run(times(3, failure));
    expect(final.state).toBe('failed');
    expect(v.calls).toHaveLength(3);
    const [c1, c2, c3] = v.calls.map((c) => c.at) as [number, number, number];
    expect(c2 - c1).toBeGreaterThanOrEqual(15);
    expect(c3 - c2).toBeGreaterThanOrEqual(35);
  });

  it.each<[string, ScriptedFailure, string]>([
    ['internal: a failed build (go mod tidy)', VELOX_FAILURES.goModTidy(), 'Velox: internal: building plugins: go mod tidy: go failed: exit status 1'],
    ['internal: a tag that does not exist', VELOX_FAILURES.templateNotFound(), 'Velox: internal: downloading template: expected 3xx redirect'],
    ['invalid_argument (request validation)', { code: 'invalid_argument', message: 'validation error:\n - plugins: value is required [required]' }, 'Velox: invalid_argument: validation error:'],
  ])('%s: permanent, one call, the message shown', async (_name, failure, error) => {
    const { final, velox: v } = await run([failure]);
    expect(final.state).toBe('failed');
    expect(final.error?.startsWith(error)).toBe(true);
    expect(v.calls).toHaveLength(1);
  });

  it('a transient failure that clears: the third attempt builds', async () => {
    const { final, velox: v } = await run(times(2, { code: 'unavailable', message: 'restarting' }));
    expect(final.state).toBe('done');
    expect(v.calls.map((c) => c.answer)).toEqual(['unavailable', 'unavailable', 'ok']);
  });

  it('already_exists waits for the other build within one attempt (no attempt spent per answer)', async () => {
    const { final, velox: v } = await run(times(5, { code: 'already_exists', message: 'build 1f2e is already in progress' }));
    expect(final.state).toBe('done');
    expect(final.attempts).toBe(1);
    expect(v.calls.map((c) => c.answer)).toEqual([...times(5, 'already_exists' as never), 'ok']);
  });

  it('already_exists past VC_VELOX_BUSY_WAIT fails, without a second attempt', async () => {
    const { final, velox: v } = await run(times(100, { code: 'already_exists', message: 'build 1f2e is already in progress' }), {
      veloxBusyWait: 1,
      initialDelay: 100,
      maxDelay: 200,
    });
    expect(final.state).toBe('failed');
    expect(final.error).toContain('VC_VELOX_BUSY_WAIT');
    expect(final.attempts).toBe(1);
    // 100, 200, 200, 200, 200 ms between answers fit in the 1 s budget: 6 calls at most.
    expect(v.calls.length).toBeGreaterThanOrEqual(4);
    expect(v.calls.length).toBeLessThanOrEqual(6);
  });
});
