import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { countingReads } from '../../src/lifecycle/counting-store.js';
import { UploadNotFoundError } from '../../src/storage/errors.js';
import { startGateway, type RunningGateway } from '../../src/gateway/start-gateway.js';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { testConfig } from '../helpers/gateway.js';
import { getBytes, putBytes } from '../helpers/http.js';
import { DRIVERS, FACETS, type Facet, type StoreUnderTest } from './drivers.js';

/**
 * The optional facets, each against every driver that declares it. Presigned and self-served URLs
 * are followed over real HTTP: straight to RGW, or through a gateway serving the local driver's.
 */
describe.each(DRIVERS)('store facets contract ($name)', (d) => {
  let t: StoreUnderTest;
  let gw: RunningGateway;
  const base = { url: '' };
  beforeAll(async () => {
    t = await d.create({ baseUrl: () => base.url });
    const config = testConfig({ port: 0, host: '127.0.0.1', logLevel: 'silent', storage: t.storage, auth: { tokens: ['contract-token'] } });
    gw = await startGateway({ config, logger: pino({ level: 'silent' }), driver: t.store });
    base.url = gw.url;
  });
  afterAll(async () => {
    await gw?.close(1000);
    await t?.cleanup();
  });

  const facet = (f: Facet) => (d.facets.includes(f) ? it : it.skip);

  it('declares exactly the facets it has, and the gateway\'s counting wrapper keeps them all', () => {
    expect(FACETS.filter((f) => t.store[f] !== undefined)).toEqual([...d.facets]);
    const counted = countingReads(t.store, { hit: () => undefined });
    expect(FACETS.filter((f) => counted[f] !== undefined)).toEqual([...d.facets]);
  });

  facet('selfServed')('selfServed: a URL altered after signing is refused before the store is touched', async () => {
    const ref = { namespace: 'default', hash: uniqueHash() };
    const a = artifact();
    const up = await t.store.presign!.upload({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, 300);
    const tampered = up.url.replace(/size=\d+/, `size=${a.size + 1}`);
    expect((await putBytes(tampered, a.body, { ...up.headers })).status).toBe(403);
    expect(await t.store.head(ref)).toBeNull();
  });

  facet('presign')('presign: an upload URL takes exactly the declared bytes once; a download URL serves them, then 404 once deleted', async () => {
    const presign = t.store.presign!;
    const ref = { namespace: 'default', hash: uniqueHash() };
    const a = artifact();
    const up = await presign.upload({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, 300);
    expect((await putBytes(up.url, a.body, { ...up.headers })).status).toBe(200);
    expect((await putBytes(up.url, a.body, { ...up.headers })).status).toBe(412);
    const handle = await t.store.head(ref);
    const down = await presign.download(handle!, 300);
    const got = await getBytes(down.url);
    expect(got.status).toBe(200);
    expect(got.body.equals(a.body)).toBe(true);
    await t.store.delete([handle!]);
    expect((await getBytes(down.url)).status).toBe(404);
  });

  facet('multipart')('multipart: parts signed with their MD5, completed once; a second complete is not a second artifact', async () => {
    const multipart = t.store.multipart!;
    const ref = { namespace: 'default', hash: uniqueHash() };
    const a = artifact(randomBytes(4096));
    const md5 = createHash('md5').update(a.body).digest('base64');
    const mp = await multipart.create({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, [{ size: a.size, md5 }], 300);
    const part = mp.parts[0]!;
    const res = await fetch(part.url, { method: 'PUT', headers: { ...part.headers }, body: a.body });
    expect(res.status).toBe(200);
    const etag = res.headers.get('etag') ?? '';
    expect(await multipart.complete(ref, mp.uploadId, [{ partNumber: 1, etag }])).toBe('created');
    await expect(multipart.complete(ref, mp.uploadId, [{ partNumber: 1, etag }])).rejects.toBeInstanceOf(UploadNotFoundError);
    expect((await t.store.head(ref))?.info).toMatchObject({ size: a.size, sha256: a.sha256 });
    const listed = await t.store.list({ space: 'artifacts', namespace: 'default', prefix: ref.hash });
    expect(listed.items.map((i) => [i.ref.hash, i.size])).toEqual([[ref.hash, a.size]]);
    await t.store.delete(listed.items);
    expect(await t.store.head(ref)).toBeNull();
  });

  facet('records')('records: create is first-wins even when raced, read, list and remove', async () => {
    const records = t.store.records!;
    const name = `contract-${uniqueHash()}`;
    const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => records.create({ kind: 'leases', name }, `writer ${i}`)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect(await records.read({ kind: 'leases', name })).toBe(`writer ${wins.indexOf(true)}`);
    expect(await records.list('leases')).toContain(name);
    await records.remove([{ kind: 'leases', name }]);
    expect(await records.read({ kind: 'leases', name })).toBeNull();
    await expect(records.create({ kind: 'leases', name: '../escape' }, 'x')).rejects.toMatchObject({ status: 400 });
  });

  facet('sweeper')('sweeper: an upload left unfinished is kept while young, reported by a dry run, then swept', async () => {
    const sweeper = t.store.sweeper!;
    const multipart = t.store.multipart!;
    const ref = { namespace: 'default', hash: uniqueHash() };
    const a = artifact();
    const mp = await multipart.create({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, [{ size: a.size, md5: a.md5 }], 300);
    const young = await sweeper.sweep({ olderThan: Date.now() - 3600_000, dryRun: false });
    expect(young.uploads).toBe(0);
    const later = Date.now() + 60_000;
    expect((await sweeper.sweep({ olderThan: later, dryRun: true })).uploads).toBeGreaterThanOrEqual(1);
    expect((await sweeper.sweep({ olderThan: later, dryRun: false })).uploads).toBeGreaterThanOrEqual(1);
    await expect(multipart.complete(ref, mp.uploadId, [{ partNumber: 1, etag: 'x' }])).rejects.toBeInstanceOf(UploadNotFoundError);
  });
});
