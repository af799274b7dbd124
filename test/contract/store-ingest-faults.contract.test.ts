import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ArtifactRef, StorageDriver } from '../../src/storage/driver.js';
import { StorageFullError, StorageUnavailableError } from '../../src/storage/errors.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { uniqueHash } from '../helpers/artifacts.js';
import { testConfig } from '../helpers/gateway.js';
import { startFaultProxy, type FaultProxy } from '../observability/fault-proxy.js';
import { DRIVERS, type StoreUnderTest } from './drivers.js';
import { MiB, chunked, drained, eventually, handFed, sha256 } from './ingest-bodies.js';

const MAX = 64 * MiB;
const DAY = 86_400_000;

/**
 * A store outage in the middle of an ingest (S3 through a proxy that resets every connection):
 * StorageUnavailableError, never anything visible; what the failed cleanup could not remove is
 * swept. A full disk (local driver, on a real tmpfs): StorageFullError, nothing staged.
 */
describe('ingest while the S3 store fails', () => {
  let t: StoreUnderTest;
  let proxy: FaultProxy;
  let viaProxy: StorageDriver;
  beforeAll(async () => {
    t = await DRIVERS.find((d) => d.name === 's3')!.create();
    proxy = await startFaultProxy((t.storage.s3 as { endpoint: string }).endpoint);
    const storage = { ...t.storage, s3: { ...(t.storage.s3 as Record<string, unknown>), endpoint: proxy.url } };
    viaProxy = new S3Driver(testConfig({ storage }).storage.s3);
  });
  afterAll(async () => {
    await viaProxy?.close();
    await proxy?.close();
    await t?.cleanup();
  });

  const ref = (): ArtifactRef => ({ space: 'http', namespace: 'default', hash: uniqueHash() });

  async function nothingVisible(r: ArtifactRef): Promise<void> {
    expect(await t.store.head(r)).toBeNull();
    expect((await t.store.list({ space: 'http', namespace: 'default', prefix: r.hash })).items).toEqual([]);
  }

  it('the store goes down between parts: 503-class error, nothing visible, the abandoned upload swept', async () => {
    const r = ref();
    const body = handFed();
    const ingest = viaProxy.ingest({ ref: r, maxSize: MAX }, body);
    const failed = ingest.then(() => 'stored', (err: unknown) => err);
    for (let i = 0; i < 11; i++) body.write(randomBytes(MiB));
    // Mid-stream: the upload exists in the store and parts are on their way.
    await eventually(async () => (await t.leftovers(r)).some((k) => k.startsWith('upload ')));
    await drained(body);
    proxy.set({ kind: 'down' });
    try {
      for (let i = 0; i < 6; i++) body.write(randomBytes(MiB));
      body.end();
      expect(await failed).toBeInstanceOf(StorageUnavailableError);
    } finally {
      proxy.set({ kind: 'pass' });
    }
    await nothingVisible(r);
    // The abort could not reach the store: the sweeper removes what is left once it is old enough.
    expect((await t.leftovers(r)).filter((k) => k.startsWith('upload '))).toHaveLength(1);
    expect((await t.store.sweeper!.sweep({ olderThan: Date.now() - DAY, dryRun: false })).uploads).toBe(0);
    expect((await t.store.sweeper!.sweep({ olderThan: Date.now() + DAY, dryRun: false })).uploads).toBeGreaterThanOrEqual(1);
    expect(await t.leftovers(r)).toEqual([]);
    await nothingVisible(r);
  });

  it('the store goes down during a streamed PutObject: 503-class error, nothing visible or left', async () => {
    const r = ref();
    const body = handFed();
    const failed = viaProxy.ingest({ ref: r, size: 3 * MiB, maxSize: MAX }, body).then(() => 'stored', (err: unknown) => err);
    body.write(randomBytes(MiB));
    await drained(body);
    proxy.set({ kind: 'down' });
    try {
      body.write(randomBytes(2 * MiB));
      body.end();
      expect(await failed).toBeInstanceOf(StorageUnavailableError);
    } finally {
      proxy.set({ kind: 'pass' });
    }
    await nothingVisible(r);
    // A PUT cut before its declared length leaves nothing in the store.
    expect(await t.leftovers(r)).toEqual([]);
  });

  it('the store is down before the body: 503-class error at once, the body untouched; fine once it is back', async () => {
    const r = ref();
    proxy.set({ kind: 'down' });
    const body = handFed();
    body.write(Buffer.from('not read'));
    try {
      await expect(viaProxy.ingest({ ref: r, size: 8, maxSize: MAX }, body)).rejects.toBeInstanceOf(StorageUnavailableError);
      expect(body.readableLength + body.writableLength).toBe(8);
    } finally {
      proxy.set({ kind: 'pass' });
    }
    const bytes = randomBytes(6 * MiB);
    const out = await viaProxy.ingest({ ref: r, maxSize: MAX }, chunked(bytes));
    expect(out).toMatchObject({ result: 'created', info: { size: bytes.length, sha256: sha256(bytes) } });
    expect((await t.store.head(r))?.info.sha256).toBe(sha256(bytes));
  });
});

const run = promisify(execFile);
const canMount = process.getuid?.() === 0;
if (!canMount) console.warn('store-ingest-faults: the full-disk case is skipped, mounting a tmpfs needs root');

(canMount ? describe : describe.skip)('ingest onto a full disk (local driver, tmpfs)', () => {
  let mountDir = '';
  let store: LocalDriver;
  beforeAll(async () => {
    mountDir = await mkdtemp(join(tmpdir(), 'vc-ingest-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mountDir]);
    store = new LocalDriver({ root: join(mountDir, 'root'), baseUrl: () => 'http://127.0.0.1:1', minFreeBytes: 1 });
    await store.init();
  });
  afterAll(async () => {
    await store?.close();
    if (mountDir) {
      await run('umount', [mountDir]).catch(() => undefined);
      await rm(mountDir, { recursive: true, force: true });
    }
  });

  it('a body that does not fit: StorageFullError (507), nothing staged or visible; fits once room is back', async () => {
    const s = await statfs(mountDir);
    const filler = join(mountDir, 'filler');
    await writeFile(filler, Buffer.alloc(Math.max(0, s.bavail * s.bsize - 2 * MiB)));
    const r: ArtifactRef = { space: 'bazel-cas', namespace: 'default', hash: uniqueHash() };
    const bytes = randomBytes(6 * MiB);
    for (const size of [bytes.length, undefined]) {
      const err = await store.ingest({ ref: r, ...(size === undefined ? {} : { size }), maxSize: MAX }, chunked(bytes)).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(StorageFullError);
      expect((err as StorageFullError).status).toBe(507);
      expect(await readdir(join(mountDir, 'root', 'tmp'))).toEqual([]);
      expect(await store.head(r)).toBeNull();
    }
    await rm(filler);
    expect((await store.ingest({ ref: r, maxSize: MAX, sha256: sha256(bytes) }, chunked(bytes))).result).toBe('created');
  });
});
