import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { PayloadTooLargeError } from '../../src/errors.js';
import type { ArtifactRef, IngestResult, KeySpace, StorageDriver } from '../../src/storage/driver.js';
import { IntegrityError } from '../../src/storage/errors.js';
import { PROTOCOL_SPACES } from '../../src/storage/object-keys.js';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { DRIVERS, type StoreUnderTest } from './drivers.js';
import { MiB, chunked, drained, handFed, readAll, sha256 } from './ingest-bodies.js';

const MAX = 64 * MiB;
/** More than the contract suite's S3 part size (5 MiB): three parts. */
const LARGE = 12 * MiB + 12345;

/**
 * `ingest`: bodies whose digest the store learns as they stream (the client protocols). Every
 * driver: published only complete and checked, first write wins against any writer, nothing left
 * behind by a failure, read back as any artifact (Range included).
 */
describe.each(DRIVERS)('store ingest contract ($name)', (d) => {
  let t: StoreUnderTest;
  beforeAll(async () => {
    t = await d.create();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  const ref = (space: KeySpace = 'turbo'): ArtifactRef => ({ space, namespace: 'default', hash: uniqueHash() });

  async function expectNothingAt(r: ArtifactRef): Promise<void> {
    expect(await t.store.head(r)).toBeNull();
    expect((await t.store.list({ space: r.space ?? 'artifacts', namespace: r.namespace, prefix: r.hash })).items).toEqual([]);
    expect(await t.leftovers(r)).toEqual([]);
  }

  async function expectStored(r: ArtifactRef, bytes: Buffer): Promise<void> {
    const handle = await t.store.head(r);
    expect(handle?.info).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
    const read = await t.store.openRead(handle!);
    expect(read.info.sha256).toBe(sha256(bytes));
    expect((await readAll(read.body)).equals(bytes)).toBe(true);
  }

  it('a declared length: published with the digest computed on the way, its facts, and read, listed, deleted as any artifact', async () => {
    const r = ref();
    const bytes = Buffer.from('turbo artifact bytes, 0123456789');
    const out = await t.store.ingest({ ref: r, size: bytes.length, maxSize: MAX, meta: { duration: '420', tag: 'sig' } }, chunked(bytes, 7));
    expect(out).toMatchObject({ result: 'created', info: { size: bytes.length, sha256: sha256(bytes), meta: { duration: '420', tag: 'sig' } } });
    const handle = await t.store.head(r);
    expect(handle?.info).toMatchObject({ size: bytes.length, sha256: sha256(bytes), meta: { duration: '420', tag: 'sig' } });
    expect((await readAll((await t.store.openRead(handle!, { start: 6, end: 13 })).body)).toString()).toBe('artifact');
    // A download URL names it as any artifact's (S3: fetched from the store; self-served: checked by the driver).
    const url = await t.store.presign!.download(handle!, 60);
    if (t.store.selfServed) {
      const signed = new URL(url.url);
      expect(signed.pathname).toBe(`/v1/local/turbo/default/${r.hash}`);
      expect(() => t.store.selfServed!.verifyDownload(r, signed.searchParams)).not.toThrow();
    } else {
      expect(Buffer.from(await (await fetch(url.url)).arrayBuffer()).equals(bytes)).toBe(true);
    }
    const listed = (await t.store.list({ space: 'turbo', namespace: 'default', prefix: r.hash })).items;
    expect(listed).toMatchObject([{ ref: r, size: bytes.length }]);
    expect(await t.leftovers(r)).toEqual([]);
    await t.store.delete(listed);
    await expectNothingAt(r);
  });

  it('an unknown length (chunked), an empty body, and a body that is exactly the part size', async () => {
    for (const bytes of [randomBytes(300_000), Buffer.alloc(0), randomBytes(5 * MiB)]) {
      const r = ref('http');
      const out = await t.store.ingest({ ref: r, maxSize: MAX }, chunked(bytes));
      expect(out).toMatchObject({ result: 'created', info: { size: bytes.length, sha256: sha256(bytes) } });
      await expectStored(r, bytes);
      expect(await t.leftovers(r)).toEqual([]);
    }
    const empty = ref('nx');
    expect((await t.store.ingest({ ref: empty, size: 0, maxSize: MAX }, Readable.from([]))).info.size).toBe(0);
    await expectStored(empty, Buffer.alloc(0));
  });

  it('larger than a part, declared or chunked: byte-identical back, with Range', async () => {
    const bytes = randomBytes(LARGE);
    for (const size of [LARGE, undefined]) {
      const r = ref('bazel-cas');
      const out = await t.store.ingest({ ref: r, ...(size === undefined ? {} : { size }), maxSize: MAX, sha256: sha256(bytes) }, chunked(bytes, 256 * 1024));
      expect(out.result).toBe('created');
      await expectStored(r, bytes);
      const handle = await t.store.head(r);
      for (const [start, end] of [[0, 0], [5 * MiB - 3, 5 * MiB + 2], [LARGE - 100, LARGE - 1]] as const) {
        const part = await readAll((await t.store.openRead(handle!, { start, end })).body);
        expect(part.equals(bytes.subarray(start, end + 1))).toBe(true);
      }
      expect(await t.leftovers(r)).toEqual([]);
    }
  });

  it('an existing artifact is answered at once with its info; the new body is not stored', async () => {
    const r = ref();
    const first = randomBytes(1000);
    await t.store.ingest({ ref: r, size: first.length, maxSize: MAX }, chunked(first));
    const again = await t.store.ingest({ ref: r, size: 7, maxSize: MAX }, chunked(Buffer.from('another')));
    expect(again).toMatchObject({ result: 'exists', info: { size: 1000, sha256: sha256(first) } });
    await expectStored(r, first);
  });

  it('too large: a declared size over the limit before a byte is read; an undeclared body as soon as it passes it; nothing left', async () => {
    const declared = ref();
    const body = handFed();
    body.write(randomBytes(1000));
    await expect(t.store.ingest({ ref: declared, size: MAX + 1, maxSize: MAX }, body)).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(body.readableLength + body.writableLength).toBe(1000);
    await expectNothingAt(declared);

    // Small, and large enough that S3 has sent parts when the limit is crossed.
    for (const [limit, size] of [[100_000, 300_000], [12 * MiB, 16 * MiB]] as const) {
      const r = ref('http');
      await expect(t.store.ingest({ ref: r, maxSize: limit }, chunked(randomBytes(size)))).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expectNothingAt(r);
    }
  });

  it('integrity: another sha256, fewer or more bytes than declared (small and in parts) are refused; nothing left', async () => {
    const small = randomBytes(100_000);
    const large = randomBytes(LARGE);
    const cases: [string, Buffer, { size?: number; sha256?: string }][] = [
      ['sha256, small', small, { size: small.length, sha256: sha256(Buffer.from('other')) }],
      ['sha256, chunked', small, { sha256: sha256(Buffer.from('other')) }],
      ['sha256, in parts', large, { size: large.length, sha256: sha256(small) }],
      ['short', small, { size: small.length + 1 }],
      ['short, in parts', large, { size: large.length + 1 }],
      ['long', small, { size: small.length - 1 }],
      ['long, in parts', large, { size: large.length - 10 }],
    ];
    for (const [name, bytes, declared] of cases) {
      const r = ref('bazel-cas');
      const attempt = t.store.ingest({ ref: r, maxSize: MAX, ...declared }, chunked(bytes, 50_000));
      await expect(attempt.then(() => name)).rejects.toBeInstanceOf(IntegrityError);
      await expectNothingAt(r);
    }
    // A long body whose declared bytes all reach the store before the excess shows.
    const r = ref();
    const body = Readable.from([Buffer.from('0123456789'), Buffer.from('more')], { objectMode: false });
    await expect(t.store.ingest({ ref: r, size: 10, maxSize: MAX }, body)).rejects.toBeInstanceOf(IntegrityError);
    await expectNothingAt(r);
  });

  it('concurrent ingests of one ref with different bytes (two replicas): exactly one wins; losers get its info; readers only ever see whole artifacts', async () => {
    const replica = t.another();
    try {
      for (const size of [200_000, 6 * MiB]) {
        const r = ref('nx');
        const bodies = [0, 1, 2, 3].map(() => randomBytes(size));
        const digests = bodies.map(sha256);
        let writing = true;
        const seen = new Set<string>();
        const reader = (async () => {
          while (writing) {
            const h = await t.store.head(r);
            if (!h) continue;
            const read = await t.store.openRead(h);
            const got = await readAll(read.body);
            expect(got.length).toBe(read.info.size);
            expect(sha256(got)).toBe(read.info.sha256);
            expect(digests).toContain(read.info.sha256);
            seen.add(read.info.sha256);
          }
        })();
        const stores: StorageDriver[] = [t.store, replica, t.store, replica];
        const results: IngestResult[] = await Promise.all(
          bodies.map((b, i) => stores[i]!.ingest({ ref: r, size: b.length, maxSize: MAX }, chunked(b, 32 * 1024))),
        );
        writing = false;
        await reader;
        const winners = results.filter((x) => x.result === 'created');
        expect(winners).toHaveLength(1);
        const winner = winners[0]!.info.sha256;
        for (const x of results) expect(x.info.sha256).toBe(winner);
        expect(seen.size).toBeLessThanOrEqual(1);
        await expectStored(r, bodies[digests.indexOf(winner)]!);
        expect(await t.leftovers(r)).toEqual([]);
      }
    } finally {
      await replica.close();
    }
  });

  it('ingest against a native write of the same ref, both orders and at once: first write wins', async () => {
    const a = artifact(randomBytes(50_000));
    const other = randomBytes(60_000);
    const written = ref();
    expect(await t.store.write({ ref: written, size: a.size, sha256: a.sha256, md5: a.md5 }, Readable.from([a.body]))).toBe('created');
    expect(await t.store.ingest({ ref: written, size: other.length, maxSize: MAX }, chunked(other))).toMatchObject({ result: 'exists', info: { sha256: a.sha256 } });
    const ingested = ref();
    await t.store.ingest({ ref: ingested, size: other.length, maxSize: MAX }, chunked(other));
    expect(await t.store.write({ ref: ingested, size: a.size, sha256: a.sha256, md5: a.md5 }, Readable.from([a.body]))).toBe('exists');
    await expectStored(ingested, other);

    for (let i = 0; i < 3; i++) {
      const r = ref();
      const [w, g] = await Promise.all([
        t.store.write({ ref: r, size: a.size, sha256: a.sha256, md5: a.md5 }, chunked(a.body, 8192)),
        t.store.ingest({ ref: r, size: other.length, maxSize: MAX }, chunked(other, 8192)),
      ]);
      expect([w, g.result].sort()).toEqual(['created', 'exists']);
      const stored = await t.store.head(r);
      expect(stored?.info.sha256).toBe(w === 'created' ? a.sha256 : sha256(other));
      expect(g.info.sha256).toBe(stored?.info.sha256);
      expect(await t.leftovers(r)).toEqual([]);
    }
  });

  it('the client leaves mid-stream (the signal, the body erroring or closing): nothing visible, staging gone', async () => {
    const stops: [string, (body: ReturnType<typeof handFed>, ac: AbortController) => void, (err: unknown) => void][] = [
      ['signal', (_b, ac) => ac.abort(), (err) => expect(err).toMatchObject({ name: 'AbortError' })],
      ['body error', (b) => b.destroy(new Error('connection reset by the client')), (err) => expect(err).toMatchObject({ message: 'connection reset by the client' })],
      ['premature close', (b) => b.destroy(), (err) => expect(err).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' })],
    ];
    for (const [name, stop, check] of stops) {
      // A small declared body (S3: one streamed PutObject), and a chunked one with parts sent.
      for (const [size, sent] of [[2 * MiB, MiB], [undefined, 11 * MiB]] as const) {
        const r = ref('http');
        const body = handFed();
        const ac = new AbortController();
        const ingest = t.store.ingest({ ref: r, ...(size === undefined ? {} : { size }), maxSize: MAX }, body, ac.signal);
        const failed = ingest.then(
          () => {
            throw new Error(`${name}: ingest succeeded`);
          },
          (err: unknown) => err,
        );
        for (let i = 0; i < sent; i += MiB) body.write(randomBytes(MiB));
        await drained(body);
        stop(body, ac);
        check(await failed);
        await expectNothingAt(r);
      }
    }
  });

  it('only the client-protocol spaces are ingested, and they are never given presigned uploads', async () => {
    for (const space of ['artifacts', 'builds'] as const) {
      await expect(t.store.ingest({ ref: ref(space), size: 1, maxSize: MAX }, Readable.from([Buffer.from('x')]))).rejects.toThrow(/only the client-protocol key spaces/);
    }
    const a = artifact('x');
    for (const space of PROTOCOL_SPACES) {
      const intent = { ref: ref(space), size: a.size, sha256: a.sha256, md5: a.md5 };
      await expect(Promise.resolve().then(() => t.store.presign!.upload(intent, 60))).rejects.toThrow(/written only through ingest/);
      await expect(Promise.resolve().then(() => t.store.multipart!.create(intent, [{ size: a.size, md5: a.md5 }], 60))).rejects.toThrow(/written only through ingest/);
    }
  });
});
