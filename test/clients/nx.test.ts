import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';
import { cleanLocalState, outputDigests, removeMonorepos, writeMonorepo } from './fixtures/turbo-nx-monorepo.js';
import { nxRemoteHits, runNx } from './nx-client.js';

let cg: ClientGateway;

beforeAll(async () => {
  cg = await startClientGateway({ driver: 's3' });
}, 60_000);

afterAll(async () => {
  await cg?.close();
  await removeMonorepos();
});

const down = (mode: string) => cg.counter('vc_protocol_bytes_total', { protocol: 'nx', direction: 'down', mode });

describe('the real nx client against a gateway on RGW', () => {
  it('stores on the first run; a second run from a clean local state is all remote hits, fetched from the store by redirect, byte-identical', async () => {
    const dir = await writeMonorepo({ nx: true });
    const first = await runNx(dir, { server: `${cg.url}/ns/acme`, token: cg.token });
    expect(first.code).toBe(0);
    expect(nxRemoteHits(first.output)).toBe(0);
    const stored = await cg.stored('nx', 'acme');
    expect(stored).toHaveLength(3);
    for (const a of stored) expect(a.ref.hash).toMatch(/^\d+$/);
    const built = await outputDigests(dir);
    expect(Object.keys(built)).toHaveLength(6);

    await cleanLocalState(dir);
    const [streamedBefore, redirectedBefore] = [await down('streamed'), await down('redirected')];
    const second = await runNx(dir, { server: `${cg.url}/ns/acme`, token: cg.token });
    expect(second.code).toBe(0);
    expect(nxRemoteHits(second.output)).toBe(3);
    expect(await outputDigests(dir)).toEqual(built);
    expect(await down('streamed')).toBe(streamedBefore);
    expect((await down('redirected')) - redirectedBefore).toBe(stored.reduce((n, a) => n + a.size, 0));
  }, 120_000);

  it('isolates namespaces: the server URL names one, the token the other', async () => {
    const dir = await writeMonorepo({ nx: true });
    expect((await runNx(dir, { server: `${cg.url}/ns/team-one`, token: cg.token })).code).toBe(0);
    expect(await cg.stored('nx', 'team-one')).toHaveLength(3);
    await cleanLocalState(dir);
    // A token for one namespace only acts in it when the URL names none.
    const onlyTwo = await cg.jwt(['cache:read', 'cache:write'], ['team-two']);
    const other = await runNx(dir, { server: cg.url, token: onlyTwo });
    expect(other.code).toBe(0);
    expect(nxRemoteHits(other.output)).toBe(0);
    expect(await cg.stored('nx', 'team-two')).toHaveLength(3);
  }, 120_000);

  it('a read-only token restores but never writes, and the run succeeds', async () => {
    const dir = await writeMonorepo({ nx: true });
    const readOnly = await cg.jwt(['cache:read']);
    const run = await runNx(dir, { server: `${cg.url}/ns/readonly`, token: readOnly });
    expect(run.code).toBe(0);
    expect(await cg.stored('nx', 'readonly')).toHaveLength(0);
  }, 120_000);

  it('with the store down, runs that would store and runs that would hit both succeed; nothing partial is stored', async () => {
    const dir = await writeMonorepo({ nx: true });
    const server = `${cg.url}/ns/outage`;
    const [uploadErrors, downloadErrors] = [
      await cg.counter('vc_storage_errors_total', { operation: 'upload' }),
      await cg.counter('vc_storage_errors_total', { operation: 'download' }),
    ];
    const missesBefore = await cg.counter('vc_cache_misses_total', { protocol: 'nx' });
    cg.proxy!.set({ kind: 'down' });
    try {
      const run = await runNx(dir, { server, token: cg.token });
      expect(run.code).toBe(0);
    } finally {
      cg.proxy!.set({ kind: 'pass' });
    }
    expect(await cg.stored('nx', 'outage')).toHaveLength(0);
    // Counted as the outages they were, never as misses.
    expect(await cg.counter('vc_storage_errors_total', { operation: 'download' })).toBe(downloadErrors + 3);
    expect(await cg.counter('vc_storage_errors_total', { operation: 'upload' })).toBe(uploadErrors + 3);
    expect(await cg.counter('vc_cache_misses_total', { protocol: 'nx' })).toBe(missesBefore);

    await cleanLocalState(dir);
    expect((await runNx(dir, { server, token: cg.token })).code).toBe(0);
    expect(await cg.stored('nx', 'outage')).toHaveLength(3);
    await cleanLocalState(dir);
    cg.proxy!.set({ kind: 'down' });
    try {
      const run = await runNx(dir, { server, token: cg.token });
      expect(run.code).toBe(0);
      expect(nxRemoteHits(run.output)).toBe(0);
    } finally {
      cg.proxy!.set({ kind: 'pass' });
    }
  }, 180_000);
});
