import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { uniqueHash } from '../helpers/artifacts.js';
import { DRIVERS, type StoreUnderTest } from './drivers.js';

const run = promisify(execFile);
const MiB = 1024 ** 2;
/**
 * Bytes per ingest: far past what any buffer of the path holds (S3: 5 MiB parts, two in flight),
 * so memory that grew with the body would show. Not a whole GiB: the suite's RGW keeps every byte
 * in memory until its garbage collection (hours), and test/clients/nx-large-upload.test.ts already
 * streams 1 GiB into it through a gateway process.
 */
const BYTES = 256 * MiB;
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
 * Constant memory: a 256 MiB ingest into each driver, in a process of its own (the built package,
 * see ingest-memory-child.mjs), grows its resident memory by less than 100 MB at any moment. S3
 * takes it in parts of the default size (5 MiB, two in flight) from a body of unknown length;
 * the local driver from a declared one.
 */
describe.each([
  ['local', false],
  ['s3', true],
] as const)('a 256 MiB ingest in constant memory (%s driver)', (name, chunkedBody) => {
  let t: StoreUnderTest;
  beforeAll(async () => {
    t = await DRIVERS.find((d) => d.name === name)!.create();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('resident memory grows by less than 100 MB; the stored size and digest are the body\'s', async () => {
    const storage = name === 's3' ? { ...t.storage, s3: { ...(t.storage.s3 as Record<string, unknown>), ingestPartSize: 5 * 1024 * 1024, ingestConcurrency: 2 } } : t.storage;
    const arg = JSON.stringify({ storage, bytes: BYTES, declared: !chunkedBody, hash: uniqueHash() });
    const { stdout } = await run(process.execPath, ['--expose-gc', CHILD, arg], { env: process.env, timeout: 110_000, maxBuffer: 1 << 20 });
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as ChildReport;
    expect(report.result).toBe('created');
    expect(report.info).toMatchObject({ size: BYTES, sha256: report.expected });
    expect(report.head).toMatchObject({ size: BYTES, sha256: report.expected });
    const growth = report.rss.peak - report.rss.before;
    expect(growth).toBeLessThan(100 * MB);
    console.log(`${name}: 256 MiB ingested in ${report.ms} ms, resident memory +${(growth / MB).toFixed(1)} MB at the peak`);
  }, 120_000);
});
