import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import type { ArtifactRef } from '../../src/storage/driver.js';
import { ArtifactNotFoundError, IntegrityError } from '../../src/storage/errors.js';
import { artifact, uniqueHash, type TestArtifact } from '../helpers/artifacts.js';
import { DRIVERS, type StoreUnderTest } from './drivers.js';

async function text(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The sealed core every driver implements: head, openRead, write, delete, list. */
describe.each(DRIVERS)('store core contract ($name)', (d) => {
  let t: StoreUnderTest;
  beforeAll(async () => {
    t = await d.create();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  const put = (ref: ArtifactRef, a: TestArtifact) =>
    t.store.write({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, Readable.from([a.body]));

  it('head is null for a missing key; write publishes, head and openRead (with a range) give it back', async () => {
    const ref = { namespace: 'default', hash: uniqueHash() };
    const a = artifact('0123456789abcdef');
    expect(await t.store.head(ref)).toBeNull();
    expect(await put(ref, a)).toBe('created');
    const handle = await t.store.head(ref);
    expect(handle?.info).toMatchObject({ size: a.size, sha256: a.sha256 });
    expect(await text((await t.store.openRead(handle!)).body)).toBe('0123456789abcdef');
    expect(await text((await t.store.openRead(handle!, { start: 2, end: 5 })).body)).toBe('2345');
  });

  it('first write wins: a second write is `exists` and the bytes stay the first', async () => {
    const ref = { namespace: 'default', hash: uniqueHash() };
    expect(await put(ref, artifact('first'))).toBe('created');
    expect(await put(ref, artifact('second!'))).toBe('exists');
    const handle = await t.store.head(ref);
    expect(await text((await t.store.openRead(handle!)).body)).toBe('first');
  });

  it('a body that does not match its declared digest is refused and nothing is published', async () => {
    const ref = { namespace: 'default', hash: uniqueHash() };
    const a = artifact('declared');
    const write = t.store.write({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, Readable.from([Buffer.from('xeclared')]));
    await expect(write).rejects.toBeInstanceOf(IntegrityError);
    expect(await t.store.head(ref)).toBeNull();
  });

  it('lists one key space by namespace and prefix, in key order, in pages', async () => {
    const ns = `ls${uniqueHash().slice(1, 9)}`;
    const hashes = ['p-a', 'p-b', 'p-c', 'q-a'];
    for (const h of hashes) await put({ namespace: ns, hash: h }, artifact(h));
    await t.store.write({ ref: { space: 'builds', namespace: ns, hash: 'p-z' }, ...digest(artifact('bin')) }, Readable.from([Buffer.from('bin')]));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await t.store.list({ space: 'artifacts', namespace: ns, limit: 2, ...(cursor ? { cursor } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((i) => i.ref.hash));
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toEqual(hashes);
    const prefixed = await t.store.list({ space: 'artifacts', namespace: ns, prefix: 'p-' });
    expect(prefixed.items.map((i) => i.ref.hash)).toEqual(['p-a', 'p-b', 'p-c']);
    expect(prefixed.items[0]).toMatchObject({ ref: { namespace: ns, hash: 'p-a' }, size: 3 });
    const builds = await t.store.list({ space: 'builds', namespace: ns });
    expect(builds.items.map((i) => [i.ref.space, i.ref.hash])).toEqual([['builds', 'p-z']]);
  });

  it('delete removes listed or looked-up artifacts, is fine with missing ones, and a key can be written anew', async () => {
    const ns = `dl${uniqueHash().slice(1, 9)}`;
    await put({ namespace: ns, hash: 'one' }, artifact('one'));
    await put({ namespace: ns, hash: 'two' }, artifact('two'));
    const listed = (await t.store.list({ space: 'artifacts', namespace: ns })).items;
    const stale = await t.store.head({ namespace: ns, hash: 'one' });
    await t.store.delete([...listed, { ref: { namespace: ns, hash: 'never-was' } }]);
    expect((await t.store.list({ space: 'artifacts', namespace: ns })).items).toEqual([]);
    expect(await t.store.head({ namespace: ns, hash: 'one' })).toBeNull();
    await expect(t.store.openRead(stale!)).rejects.toBeInstanceOf(ArtifactNotFoundError);
    expect(await put({ namespace: ns, hash: 'one' }, artifact('ONE, again'))).toBe('created');
    // A handle from before the deletion never serves the old bytes under the new info, or the reverse.
    const read = await t.store.openRead(stale!);
    expect(read.info.size).toBe('ONE, again'.length);
    expect(await text(read.body)).toBe('ONE, again');
  });
});

function digest(a: TestArtifact): { size: number; sha256: string; md5: string } {
  return { size: a.size, sha256: a.sha256, md5: a.md5 };
}
