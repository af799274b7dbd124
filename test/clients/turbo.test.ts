import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';
import { cleanLocalState, outputDigests, removeMonorepos, writeMonorepo } from './fixtures/turbo-nx-monorepo.js';
import { runTurbo, turboCached } from './turbo-client.js';

let cg: ClientGateway;

beforeAll(async () => {
  cg = await startClientGateway({ driver: 's3' });
}, 60_000);

afterAll(async () => {
  await cg?.close();
  await removeMonorepos();
});

const down = (mode: string) => cg.counter('vc_protocol_bytes_total', { protocol: 'turbo', direction: 'down', mode });

describe('the real turbo client against a gateway on RGW', () => {
  it('stores on the first run; a second run from a clean local state is all remote hits, fetched from the store by redirect, byte-identical', async () => {
    const dir = await writeMonorepo();
    const first = await runTurbo(dir, { api: cg.url, token: cg.token, team: 'acme' });
    expect(first.code).toBe(0);
    expect(turboCached(first.output)).toEqual({ cached: 0, total: 3 });
    const stored = await cg.stored('turbo', 'acme');
    expect(stored).toHaveLength(3);
    const built = await outputDigests(dir);
    expect(Object.keys(built)).toHaveLength(6);

    await cleanLocalState(dir);
    expect(await outputDigests(dir)).toEqual({});
    const [streamedBefore, redirectedBefore, hitsBefore] = [await down('streamed'), await down('redirected'), await cg.counter('vc_cache_hits_total', { protocol: 'turbo' })];
    const second = await runTurbo(dir, { api: cg.url, token: cg.token, team: 'acme' });
    expect(second.code).toBe(0);
    expect(turboCached(second.output)).toEqual({ cached: 3, total: 3 });
    expect(second.output).toContain('FULL TURBO');
    expect(await outputDigests(dir)).toEqual(built);
    // The gateway answered 302 for every hit and carried none of the bytes.
    expect(await down('streamed')).toBe(streamedBefore);
    expect((await down('redirected')) - redirectedBefore).toBe(stored.reduce((n, a) => n + a.size, 0));
    expect((await cg.counter('vc_cache_hits_total', { protocol: 'turbo' })) - hitsBefore).toBe(3);

    // `--preflight`: an OPTIONS before each request; Authorization is sent only if the answer lists it.
    await cleanLocalState(dir);
    const preflight = await runTurbo(dir, { api: cg.url, token: cg.token, team: 'acme', args: ['--preflight'] });
    expect(preflight.code).toBe(0);
    expect(turboCached(preflight.output)).toEqual({ cached: 3, total: 3 });
    expect(await outputDigests(dir)).toEqual(built);
  }, 90_000);

  it('with artifact signing, stores each tag and streams hits with it; turbo verifies the tag (a wrong key restores nothing)', async () => {
    const dir = await writeMonorepo({ turboRemoteCache: { signature: true } });
    const opts = { api: cg.url, token: cg.token, teamId: 'team_signed', signatureKey: 'a-secret-signing-key' };
    const first = await runTurbo(dir, opts);
    expect(first.code).toBe(0);
    const stored = await cg.stored('turbo', 'signed');
    expect(stored).toHaveLength(3);
    for (const a of stored) {
      const head = await fetch(`${cg.url}/v8/artifacts/${a.ref.hash}?teamId=team_signed`, { method: 'HEAD', headers: { authorization: `Bearer ${cg.token}` } });
      expect(head.status).toBe(200);
      expect(head.headers.get('x-artifact-tag')).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(Number(head.headers.get('x-artifact-duration'))).toBeGreaterThan(0);
    }
    const built = await outputDigests(dir);

    await cleanLocalState(dir);
    const [streamedBefore, redirectedBefore] = [await down('streamed'), await down('redirected')];
    const second = await runTurbo(dir, opts);
    expect(second.code).toBe(0);
    expect(turboCached(second.output)).toEqual({ cached: 3, total: 3 });
    expect(await outputDigests(dir)).toEqual(built);
    // Signed hits stream (the tag must be on the answer itself): no redirects.
    expect((await down('streamed')) - streamedBefore).toBe(stored.reduce((n, a) => n + a.size, 0));
    expect(await down('redirected')).toBe(redirectedBefore);

    await cleanLocalState(dir);
    const forged = await runTurbo(dir, { ...opts, signatureKey: 'another-key' });
    expect(forged.code).toBe(0);
    expect(turboCached(forged.output)).toEqual({ cached: 0, total: 3 });
    expect(await outputDigests(dir)).not.toEqual(built);
    // The rebuilt artifacts were offered again and replaced nothing.
    expect((await cg.stored('turbo', 'signed')).map((a) => [a.ref.hash, a.createdAt])).toEqual(stored.map((a) => [a.ref.hash, a.createdAt]));
  }, 90_000);

  it('isolates teams: the slug and the teamId without team_ name the namespace', async () => {
    const dir = await writeMonorepo();
    expect((await runTurbo(dir, { api: cg.url, token: cg.token, team: 'ns-one' })).code).toBe(0);
    expect(await cg.stored('turbo', 'ns-one')).toHaveLength(3);
    await cleanLocalState(dir);
    const other = await runTurbo(dir, { api: cg.url, token: cg.token, team: 'ns-two' });
    expect(turboCached(other.output)).toEqual({ cached: 0, total: 3 });
    await cleanLocalState(dir);
    const byId = await runTurbo(dir, { api: cg.url, token: cg.token, teamId: 'team_ns-one' });
    expect(turboCached(byId.output)).toEqual({ cached: 3, total: 3 });
  }, 90_000);

  it('a read-only token restores but never writes', async () => {
    const dir = await writeMonorepo();
    const readOnly = await cg.jwt(['cache:read']);
    const run = await runTurbo(dir, { api: cg.url, token: readOnly, team: 'readonly' });
    expect(run.code).toBe(0);
    expect(turboCached(run.output)).toEqual({ cached: 0, total: 3 });
    // Turborepo reads the 403 (in its own error shape) as "no write access" and stops uploading.
    expect(run.output).toMatch(/rejected an upload with 403/);
    expect(await cg.stored('turbo', 'readonly')).toHaveLength(0);
  }, 60_000);

  it('a token for other namespaces gets remote caching disabled, and the run still succeeds', async () => {
    const dir = await writeMonorepo();
    const theirs = await cg.jwt(['cache:read', 'cache:write'], ['someone-else']);
    const run = await runTurbo(dir, { api: cg.url, token: theirs, team: 'not-mine' });
    expect(run.code).toBe(0);
    // /v8/artifacts/status said `disabled`; the artifact routes answer 403 in Turborepo's error shape.
    expect(run.output).toMatch(/Remote caching unavailable \(Disabled/);
    expect(await cg.stored('turbo', 'not-mine')).toHaveLength(0);
  }, 60_000);

  it('with the store down, runs that would store and runs that would hit both succeed; nothing partial is stored', async () => {
    const dir = await writeMonorepo();
    /** A turbo run with the store down: it succeeds, every task run (nothing from the cache). */
    const runWhileStoreDown = async (): Promise<void> => {
      cg.proxy!.set({ kind: 'down' });
      try {
        const run = await runTurbo(dir, { api: cg.url, token: cg.token, team: 'outage' });
        expect(run.code).toBe(0);
        expect(turboCached(run.output)).toEqual({ cached: 0, total: 3 });
      } finally {
        cg.proxy!.set({ kind: 'pass' });
      }
    };
    const errorsBefore = await cg.counter('vc_storage_errors_total', { operation: 'download' });
    await runWhileStoreDown();
    expect(await cg.stored('turbo', 'outage')).toHaveLength(0);
    expect(await cg.counter('vc_storage_errors_total', { operation: 'download' })).toBeGreaterThan(errorsBefore);

    // Stored while the store is up, then looked up while it is down: the tasks run again.
    await cleanLocalState(dir);
    expect((await runTurbo(dir, { api: cg.url, token: cg.token, team: 'outage' })).code).toBe(0);
    expect(await cg.stored('turbo', 'outage')).toHaveLength(3);
    await cleanLocalState(dir);
    await runWhileStoreDown();
  }, 120_000);
});
