import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { harness, principal, type Harness } from '../../helpers/builds-harness.js';
import { standInBinary, startVeloxStandIn, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { DRIVERS, type StoreUnderTest } from '../../contract/drivers.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * Issue 13, item 4: `force_rebuild` built again but kept the stored binary ("stored":"exists",
 * the same sha256) even when the new build's bytes differed. Now the worker replaces it through
 * the store's replace facet (a new object, then the key moves) and records it; a read of the old
 * binary already under way finishes with the old bytes. The real drivers (Ceph RGW, local disk)
 * under the build service, an in-process queue and a worker.
 */
const SIZE = 8 * 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const admin = principal('ops', 'build:request', 'admin');

let h: Harness | undefined;
let velox: VeloxStandIn | undefined;
let store: StoreUnderTest | undefined;
afterEach(async () => {
  await h?.close();
  await velox?.close();
  await store?.cleanup();
  h = velox = store = undefined;
});

describe.each(DRIVERS.map((d) => [d.name, d] as const))('force_rebuild replaces the stored binary (%s)', (_name, driver) => {
  it('serves the new bytes after a forced rebuild, records it, and lets a read under way finish', async () => {
    velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), binarySize: SIZE, salt: 'first' });
    store = await driver.create();
    h = await harness({ veloxUrl: velox.url }, { driver: store.store });
    const req = uniqueRequest(`force-${randomUUID()}`);
    const finish = async (body: Record<string, unknown>) => {
      const done = await h!.finish((await h!.service.submit(body, admin) as { id: string }).id, 60_000);
      expect(done.state).toBe('done');
      return done;
    };
    const first = await finish(req);
    expect(first.result?.stored).toBe('created');
    const ref = h.service.ref(first.key);

    // A read of the old binary, under way: the first bytes in, the rest pending.
    const handle = await store.store.head(ref);
    const reading = (await store.store.openRead(handle!)).body;
    const chunks: Buffer[] = [];
    const firstChunk = await new Promise<Buffer>((resolve) => reading.once('data', (c: Buffer) => (reading.pause(), resolve(c))));
    chunks.push(firstChunk);

    velox.options.salt = 'second';
    const forced = await finish({ ...req, force_rebuild: true });
    const expected = sha(standInBinary(velox.calls.at(-1)?.body ?? {}, SIZE, 'second'));
    expect(forced.result).toMatchObject({ stored: 'replaced', sha256: expected });
    expect(expected).not.toBe(first.result?.sha256);

    reading.resume();
    for await (const c of reading) chunks.push(c as Buffer);
    expect(sha(Buffer.concat(chunks))).toBe(first.result?.sha256);

    const hit = await h.service.submit(req, admin);
    expect(hit).toMatchObject({ status: 'found', sha256: expected, size: SIZE });
    expect((hit as { build: unknown }).build).toMatchObject({ force_rebuild: true, replaced_sha256: first.result?.sha256 });
    const now = await store.store.head(ref);
    const bytes: Buffer[] = [];
    for await (const c of (await store.store.openRead(now!)).body) bytes.push(c as Buffer);
    expect(sha(Buffer.concat(bytes))).toBe(expected);
  });

  it('never replaces outside the builds key space', async () => {
    store = await driver.create();
    const replace = store.store.replace;
    expect(replace).toBeDefined();
    const { Readable: R } = await import('node:stream');
    await expect(
      replace!.replace({ ref: { space: 'artifacts', namespace: 'ns', hash: 'a'.repeat(64) }, size: 1, sha256: sha(Buffer.from('x')) }, R.from([Buffer.from('x')])),
    ).rejects.toThrow(/only the builds key space/);
  });
});
