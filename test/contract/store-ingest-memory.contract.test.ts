import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniqueHash } from '../helpers/artifacts.js';
import { DRIVERS, type StoreUnderTest } from './drivers.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;
const MB = 1e6;
const CHILD = join(process.cwd(), 'test', 'contract', 'ingest-memory-child.mjs');

interface ChildReport {
  result: string;
  info: { size: number; sha256: string };
  head?: { size: number; sha256: string };
  expected: string;
  rss: { before: number; peak: number };
  ms: number;
}

/**
 * Constant memory: a 1 GiB ingest into each driver, in a process of its own (the built package,
 * see ingest-memory-child.mjs), grows its resident memory by less than 100 MB at any moment. S3
 * takes it in parts of the default size (5 MiB, two in flight) from a body of unknown length;
 * the local driver from a declared one.
 */
describe.each([
  ['local', false],
  ['s3', true],
] as const)('a 1 GiB ingest in constant memory (%s driver)', (name, chunkedBody) => {
  let t: StoreUnderTest;
  beforeAll(async () => {
    t = await DRIVERS.find((d) => d.name === name)!.create();
  });
  afterAll(async () => {
    await t?.cleanup();
    // RGW frees deleted bytes in its garbage collection, hours later by default; the suite's store
    // keeps objects in memory (memstore), so give the gigabyte back now.
    const dir = process.env.VC_TEST_RGW_DIR;
    if (name === 's3' && dir) await run('radosgw-admin', ['-c', join(dir, 'ceph.conf'), 'gc', 'process', '--include-all']).catch(() => undefined);
  });

  it('resident memory grows by less than 100 MB; the stored size and digest are the body\'s', async () => {
    const storage = name === 's3' ? { ...t.storage, s3: { ...(t.storage.s3 as Record<string, unknown>), ingestPartSize: 5 * 1024 * 1024, ingestConcurrency: 2 } } : t.storage;
    const arg = JSON.stringify({ storage, bytes: GiB, declared: !chunkedBody, hash: uniqueHash() });
    const { stdout } = await run(process.execPath, ['--expose-gc', CHILD, arg], { env: process.env, timeout: 110_000, maxBuffer: 1 << 20 });
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as ChildReport;
    expect(report.result).toBe('created');
    expect(report.info).toMatchObject({ size: GiB, sha256: report.expected });
    expect(report.head).toMatchObject({ size: GiB, sha256: report.expected });
    const growth = report.rss.peak - report.rss.before;
    expect(growth).toBeLessThan(100 * MB);
    console.log(`${name}: 1 GiB ingested in ${report.ms} ms, resident memory +${(growth / MB).toFixed(1)} MB at the peak`);
  }, 120_000);
});
