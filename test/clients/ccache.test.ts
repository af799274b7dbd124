import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';
import { uniqueNamespace } from './stream-download-harness.js';

/**
 * The real ccache (Debian's, with gcc) against a gateway on Ceph RGW, through its HTTP remote
 * storage: `remote_storage = http://host/ns/{namespace}/http|bearer-token=T|layout=...`. Each run
 * gets a fresh CCACHE_DIR (a clean local cache) and no configuration file but the environment's.
 */
const CCACHE = process.env.VC_TEST_CCACHE ?? '/usr/bin/ccache';
const SOURCES: Record<string, string> = {
  'a.c': 'int twice(int x) { return x * 2; }\n',
  'b.c': '#include <string.h>\nunsigned long len(const char *s) { return strlen(s); }\n',
  'c.c': `static const char table[] = {${Array.from({ length: 4000 }, (_, i) => i % 251).join(',')}};\nconst char *t(void) { return table; }\n`,
};
const FILES = Object.keys(SOURCES);
type Layout = 'subdirs' | 'flat' | 'bazel';
type Stats = Record<string, number>;

interface Run {
  readonly codes: (number | null)[];
  readonly stats: Stats;
  readonly objects: Record<string, Buffer>;
}

describe('real ccache client', () => {
  let gw: ClientGateway;
  let dir: string;
  let src: string;
  let runs = 0;

  beforeAll(async () => {
    gw = await startClientGateway();
    dir = await mkdtemp(join(tmpdir(), 'vc-ccache-'));
    src = join(dir, 'src');
    await mkdir(src);
    for (const [name, text] of Object.entries(SOURCES)) await writeFile(join(src, name), text);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Compiles every source once with a fresh local cache; returns ccache's counters. */
  async function compileAll(namespace: string, token: string, layout?: Layout): Promise<Run> {
    const n = runs++;
    const ccacheDir = join(dir, `cache-${n}`);
    const config = join(dir, `ccache-${n}.conf`);
    await writeFile(config, '');
    // ccache's default connect timeout (100 ms) is kept for real use; a loaded test machine
    // gets more, so a slow accept is not mistaken for an outage.
    const remote = `${gw.url}/ns/${namespace}/http|bearer-token=${token}|connect-timeout=2000${layout ? `|layout=${layout}` : ''}`;
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      CCACHE_DIR: ccacheDir,
      CCACHE_CONFIGPATH: config,
      CCACHE_REMOTE_STORAGE: remote,
      CCACHE_BASEDIR: src,
      CCACHE_NOHASHDIR: '1',
    };
    const codes: (number | null)[] = [];
    for (const file of FILES) {
      await rm(join(src, `${file}.o`), { force: true });
      codes.push(await run(CCACHE, ['gcc', '-O2', '-c', file, '-o', `${file}.o`], src, env));
    }
    const objects: Record<string, Buffer> = {};
    for (const file of FILES) objects[file] = await readFile(join(src, `${file}.o`));
    let printed = '';
    await run(CCACHE, ['--print-stats'], src, env, (d) => (printed += d));
    const stats: Stats = {};
    for (const line of printed.split('\n')) {
      const [name, value] = line.split('\t');
      if (name && value !== undefined) stats[name] = Number(value);
    }
    return { codes, stats, objects };
  }

  /** One namespace for every layout: each layout names entries its own way, so each starts empty. */
  const layoutsNs = uniqueNamespace('ccache');

  it.each<[string, Layout | undefined]>([
    ['subdirs (the default)', undefined],
    ['flat', 'flat'],
    ['bazel', 'bazel'],
  ])('layout %s: the first run stores, a second from a clean cache is all remote hits, byte-identical', async (_name, layout) => {
    const ns = layoutsNs;
    const before = ((await gw.stored('http', ns)).map((a) => a.ref.hash)).length;
    const first = await compileAll(ns, gw.token, layout);
    expect(first.codes).toEqual(FILES.map(() => 0));
    expect(first.stats.remote_storage_miss).toBe(FILES.length);
    expect(first.stats.remote_storage_error).toBe(0);
    expect(first.stats.remote_storage_write).toBeGreaterThanOrEqual(FILES.length);
    expect(((await gw.stored('http', ns)).map((a) => a.ref.hash)).length).toBe(before + (first.stats.remote_storage_write ?? NaN));

    const streamed = await gw.counter('vc_protocol_bytes_total', { protocol: 'http', direction: 'down', mode: 'streamed' });
    const second = await compileAll(ns, gw.token, layout);
    expect(second.codes).toEqual(FILES.map(() => 0));
    expect(second.stats.remote_storage_hit).toBe(FILES.length);
    expect(second.stats.remote_storage_miss).toBe(0);
    expect(second.stats.remote_storage_error).toBe(0);
    expect(second.stats.remote_storage_write).toBe(0);
    for (const file of FILES) expect(second.objects[file]?.equals(first.objects[file] as Buffer)).toBe(true);
    expect(await gw.counter('vc_protocol_bytes_total', { protocol: 'http', direction: 'down', mode: 'streamed' })).toBeGreaterThan(streamed);
  }, 120_000);

  it('compiles locally while the store is down, and stores nothing', async () => {
    const ns = uniqueNamespace('ccache');
    gw.proxy?.set({ kind: 'down' });
    let run: Run;
    try {
      run = await compileAll(ns, gw.token);
    } finally {
      gw.proxy?.set({ kind: 'pass' });
    }
    expect(run.codes).toEqual(FILES.map(() => 0));
    expect(run.stats.remote_storage_hit).toBe(0);
    expect((run.stats.remote_storage_error ?? 0) + (run.stats.remote_storage_timeout ?? 0)).toBeGreaterThan(0);
    expect((await gw.stored('http', ns)).map((a) => a.ref.hash)).toEqual([]);
  }, 120_000);

  it('with a read-only token reads but never writes, and compiles', async () => {
    const ns = uniqueNamespace('ccache');
    const run = await compileAll(ns, await gw.jwt(['cache:read']));
    expect(run.codes).toEqual(FILES.map(() => 0));
    expect(run.stats.remote_storage_miss).toBe(FILES.length);
    expect(run.stats.remote_storage_write ?? 0).toBe(0);
    expect((await gw.stored('http', ns)).map((a) => a.ref.hash)).toEqual([]);
  }, 120_000);

});

function run(cmd: string, args: string[], cwd: string, env: Record<string, string>, onStdout?: (d: string) => void): Promise<number | null> {
  const child = spawn(cmd, args, { cwd, env });
  child.stdout.on('data', (d: Buffer) => onStdout?.(d.toString()));
  child.stderr.resume();
  return new Promise((resolve) => child.once('close', resolve));
}
