import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { BadRequestError, ForbiddenError, ServiceUnavailableError } from '../../../src/errors.js';
import { MemoryDriver } from '../../helpers/builds-memory-driver.js';
import { harness, principal, type Harness } from '../../helpers/builds-harness.js';
import { startVeloxStandIn, VELOX_FAILURES, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { uniqueRequest, validRequest } from '../../fixtures/builds/requests.js';

// Velox needs Go and the internet; these tests use a stand-in speaking its exact Connect JSON
// wire format (see test/helpers/builds-velox-stand-in.ts).
let h: Harness | undefined;
let velox: VeloxStandIn | undefined;
afterEach(async () => {
  await h?.close();
  await velox?.close();
  h = undefined;
  velox = undefined;
});

async function withVelox(raw: Record<string, unknown> = {}, standIn: { delayMs?: number } = {}) {
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), ...standIn });
  h = await harness({ veloxUrl: velox.url, ...raw });
  return { h, velox };
}

const alice = principal('alice');

describe('build service (in-process queue)', () => {
  it('builds a miss once, shares it between identical requests, then answers hits', async () => {
    const { h, velox } = await withVelox({}, { delayMs: 200 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h.service.submit(validRequest({ request_id: randomUUID(), plugins: i % 2 ? [...(validRequest().plugins as unknown[])].reverse() : validRequest().plugins }), alice)),
    );
    const ids = new Set(answers.map((a) => ('id' in a ? a.id : 'found')));
    expect(ids.size).toBe(1);
    expect(answers[0]?.status).toMatch(/^(queued|building)$/);
    const id = [...ids][0] as string;
    const done = await h.finish(id);
    expect(done.state).toBe('done');
    expect(velox.builds).toBe(1);
    expect(velox.calls[0]?.headers['content-type']).toBe('application/json');
    expect(Number(velox.calls[0]?.headers['connect-timeout-ms'])).toBeGreaterThan(0);

    const hit = await h.service.submit(validRequest(), alice);
    expect(hit).toMatchObject({ status: 'found', hash: done.key, size: 64 * 1024 });
    expect(velox.calls).toHaveLength(1);

    const stored = (h.driver as MemoryDriver).objects.get(`builds/builds/${done.key}`);
    expect(stored?.info.meta).toMatchObject({
      'rr-version': 'v2025.1.2',
      platform: 'linux/amd64',
      'build-key': done.key,
      plugins: expect.stringContaining('github.com/roadrunner-server/http/v5@v5.0.2') as unknown,
      builder: 'velox',
      'requested-by': 'alice',
      'built-by': expect.stringMatching(/^velocity-worker@/) as unknown,
    });
    expect(Number(stored?.info.meta?.['build-duration-ms'])).toBeGreaterThanOrEqual(150);
    const status = await h.service.status(id, alice);
    expect(status).toMatchObject({ status: 'done', url: `memory://builds/builds/${done.key}`, sha256: stored?.info.sha256 });
  });

  it('retries transient Velox failures with exponential backoff', async () => {
    const { h, velox } = await withVelox({ initialDelay: 100, backoffMultiplier: 3, maxAttempts: 4 });
    velox.options.failures = [
      { code: 'unavailable', message: 'velox restarting' },
      { status: 502, text: 'bad gateway' },
    ];
    const answer = await h.service.submit(uniqueRequest('retry'), alice);
    const done = await h.finish((answer as { id: string }).id);
    expect(done.state).toBe('done');
    expect(velox.calls).toHaveLength(3);
    const [a, b, c] = velox.calls.map((call) => call.at);
    expect((b as number) - (a as number)).toBeGreaterThanOrEqual(90);
    expect((c as number) - (b as number)).toBeGreaterThanOrEqual(290);
    expect(done.attempts).toBe(3);
  });

  it('does not retry a permanent failure and shows its error', async () => {
    const { h, velox } = await withVelox({ maxAttempts: 5 });
    // Velox reports a failed build as `internal` (server.go: "building plugins: ...").
    velox.options.failures = [VELOX_FAILURES.goModTidy('github.com/x/y@v9.9.9: unknown revision v9.9.9\ngo: exit status 1')];
    const answer = await h.service.submit(uniqueRequest('permanent'), alice);
    const failed = await h.finish((answer as { id: string }).id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('internal: building plugins');
    // The first line is the error; Velox's stderr tail (the reason) is in the output tail.
    expect(failed.logsTail).toContain('go: github.com/x/y@v9.9.9: unknown revision v9.9.9');
    expect(failed.logsTail).toContain('go: exit status 1');
    expect(velox.calls).toHaveLength(1);
    // A new request for the same key after a failure starts a new build (a new generation).
    const again = await h.service.submit(uniqueRequest('permanent'), alice);
    expect((again as { id: string }).id).not.toBe(failed.id);
  });

  it('gives up after max_attempts of transient failures', async () => {
    const { h, velox } = await withVelox({ maxAttempts: 2, initialDelay: 10 });
    velox.options.failures = Array.from({ length: 5 }, () => VELOX_FAILURES.proxyDown());
    const answer = await h.service.submit(uniqueRequest('exhausted'), alice);
    const failed = await h.finish((answer as { id: string }).id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('go mod tidy');
    expect(velox.calls).toHaveLength(2);
  });

  it('rejects invalid requests before the queue and the builder', async () => {
    const { h, velox } = await withVelox();
    for (const bad of [
      validRequest({ rr_version: 'latest' }),
      validRequest({ target_platform: { os: 'plan10', arch: 'amd64' } }),
      validRequest({ plugins: [] }),
      validRequest({ request_id: '1234' }),
    ]) {
      await expect(h.service.submit(bad, alice)).rejects.toBeInstanceOf(BadRequestError);
    }
    expect(await h.queue.depth()).toBe(0);
    expect(velox.calls).toHaveLength(0);
  });

  it('needs build:request, and admin for force_rebuild', async () => {
    const { h } = await withVelox();
    await expect(h.service.submit(validRequest(), principal('reader', 'cache:read'))).rejects.toBeInstanceOf(ForbiddenError);
    await expect(h.service.submit(validRequest({ force_rebuild: true }), alice)).rejects.toBeInstanceOf(ForbiddenError);
    const forced = await h.service.submit(validRequest({ force_rebuild: true }), principal('root', 'admin'));
    expect(forced.status).toMatch(/queued|building/);
  });

  it('answers 503 with a how-to when no builder is configured, and still serves hits', async () => {
    h = await harness({}, { worker: false });
    const err = (await h.service.submit(uniqueRequest('nobuilder'), alice).catch((e: unknown) => e)) as ServiceUnavailableError;
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err.code).toBe('no_builder');
    expect(err.message).toContain('VC_VELOX_URL');
    expect(err.message).toContain('VC_BUILD_COMMAND');
    expect(await h.queue.depth()).toBe(0);
    // A binary stored earlier (by a worker elsewhere) is still a hit.
    const { buildKey, canonicalRequest } = await import('../../../src/builds/canonical-request.js');
    const { parseBuildRequest } = await import('../../../src/builds/build-request-schema.js');
    const key = buildKey(canonicalRequest(parseBuildRequest(uniqueRequest('nobuilder'))));
    const bytes = Buffer.from('stored binary');
    const { createHash } = await import('node:crypto');
    const { Readable } = await import('node:stream');
    await h.driver.write(
      { ref: h.service.ref(key), size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') },
      Readable.from([bytes]),
    );
    expect(await h.service.submit(uniqueRequest('nobuilder'), alice)).toMatchObject({ status: 'found', hash: key, size: bytes.length });
  });

  it('reports a store outage as 503, never as a miss to build', async () => {
    const driver = new MemoryDriver();
    const { h: hh, velox: v } = await (async () => {
      velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`) });
      h = await harness({ veloxUrl: velox.url }, { driver });
      return { h, velox };
    })();
    driver.down = true;
    await expect(hh.service.submit(validRequest(), alice)).rejects.toMatchObject({ status: 503, code: 'storage_unavailable' });
    expect(v.calls).toHaveLength(0);
  });

  it('counts a binary upload the store refused as a storage error (build_upload)', async () => {
    const driver = new MemoryDriver();
    velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), delayMs: 100 });
    h = await harness({ veloxUrl: velox.url, maxAttempts: 1 }, { driver });
    const queued = await h.service.submit(validRequest(), alice);
    if (!('id' in queued)) throw new Error('expected a queued build');
    // Down once the build is queued: the worker builds (its lookup of a stored binary is only a
    // shortcut) and its upload meets the outage.
    driver.down = true;
    const done = await h.finish(queued.id);
    expect(done).toMatchObject({ state: 'failed' });
    expect(await h.metrics.registry.getSingleMetricAsString('vc_storage_errors_total')).toMatch(/operation="build_upload"\} 1$/m);
  });
});

describe('command builder', () => {
  it('builds with the canonical request on stdin and the output in $VELOCITY_OUTPUT', async () => {
    const log = join(tmpdir(), `vc-cmd-${randomUUID()}`);
    h = await harness({ command: `cat > "${log}"; echo building >&2; printf 'rr-binary' > "$VELOCITY_OUTPUT"` });
    const answer = await h.service.submit(uniqueRequest('cmd'), alice);
    const done = await h.finish((answer as { id: string }).id);
    expect(done.state).toBe('done');
    expect(done.result?.size).toBe('rr-binary'.length);
    const stdin = JSON.parse(await readFile(log, 'utf8')) as Record<string, unknown>;
    expect(stdin).toMatchObject({ key_version: 1, rr_version: 'v2025.1.2', race: false });
    expect(done.logsTail).toContain('building');
  });

  it('shows a failed build error and stderr tail, without retrying', async () => {
    const count = join(tmpdir(), `vc-count-${randomUUID()}`);
    h = await harness({
      command: `echo run >> "${count}"; echo "step 1 ok"; echo "main.go:12: undefined: foo" >&2; exit 2`,
      maxAttempts: 3,
    });
    const answer = await h.service.submit(uniqueRequest('cmdfail'), alice);
    const failed = await h.finish((answer as { id: string }).id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toBe('build command exited with status 2: main.go:12: undefined: foo');
    expect(failed.logsTail).toEqual(expect.arrayContaining(['step 1 ok', 'main.go:12: undefined: foo']));
    expect((await readFile(count, 'utf8')).trim().split('\n')).toHaveLength(1);
    const status = await h.service.status(failed.id, alice);
    expect(status).toMatchObject({ status: 'failed', error: failed.error });
    expect(status.logs_tail).toContain('main.go:12: undefined: foo');
  });

  it('retries exit status 75 (temporary failure) up to max_attempts', async () => {
    const count = join(tmpdir(), `vc-count-${randomUUID()}`);
    h = await harness({ command: `echo run >> "${count}"; echo "mirror down" >&2; exit 75`, maxAttempts: 3, initialDelay: 10 });
    const answer = await h.service.submit(uniqueRequest('tempfail'), alice);
    const failed = await h.finish((answer as { id: string }).id);
    expect(failed.state).toBe('failed');
    expect((await readFile(count, 'utf8')).trim().split('\n')).toHaveLength(3);
  });

  it('fails a build past its timeout, killing the command', async () => {
    h = await harness({ command: 'sleep 30; printf x > "$VELOCITY_OUTPUT"', buildTimeout: 1, requestTimeout: 1 });
    const started = Date.now();
    const answer = await h.service.submit(uniqueRequest('timeout'), alice);
    const failed = await h.finish((answer as { id: string }).id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('VC_BUILD_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
