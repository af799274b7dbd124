import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { gitdir, monorepoFiles, removeGitdirs } from '../../fixtures/cli/monorepo.js';
import { runCli } from './run-cli.js';
import { snapshot } from './tree-snapshot.js';

afterAll(removeGitdirs);

const PACKAGES = ['a', 'b', 'c', 'd'];
const OUTPUT_ROOTS = PACKAGES.flatMap((p) => [`packages/${p}/dist`, `packages/${p}/types`, `packages/${p}/coverage/lcov.info`]);

interface Summary {
  success: boolean;
  exitCode: number;
  counts: { tasks: number; hitsLocal: number; hitsRemote: number; misses: number; failed: number; notRun: number };
  tasks: Array<{ id: string; key: string; status: string; upload: string | null; exitCode: number | null }>;
}

const parse = (stdout: string): Summary => JSON.parse(stdout) as Summary;
const runsLog = async (dir: string): Promise<string[]> =>
  existsSync(join(dir, 'runs.log')) ? (await readFile(join(dir, 'runs.log'), 'utf8')).split('\n').filter(Boolean).sort() : [];
const warnings = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('velocity: warning:'));

async function wipe(dir: string): Promise<void> {
  await rm(join(dir, '.velocity'), { recursive: true, force: true });
  for (const p of PACKAGES) {
    for (const out of ['dist', 'types', 'coverage']) await rm(join(dir, 'packages', p, out), { recursive: true, force: true });
  }
}

const CASES: Array<['local' | 's3', 'npm' | 'pnpm']> = [
  ['local', 'npm'],
  ['local', 'pnpm'],
  ...(process.env.VC_TEST_S3_ENDPOINT ? [['s3', 'npm'] as ['s3', 'npm']] : []),
];

describe.each(CASES)('velocity run against a real gateway (%s driver, %s workspace)', (driver, flavor) => {
  let gw: TestGateway;
  let salt = 0;
  beforeAll(async () => {
    gw = await startGateway({ driver });
  });
  afterAll(async () => {
    await gw.close();
  });
  // Each test gets its own keys (FIXTURE_FLAVOR is a declared env input), so tests sharing a
  // gateway never see each other's artifacts.
  const env = (): Record<string, string> => ({ FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: gw.token, FIXTURE_FLAVOR: `${flavor}-${Date.now()}-${salt++}` });

  it('misses and uploads everything, then restores byte-identical outputs from the remote without running commands', async () => {
    const dir = await gitdir(monorepoFiles(flavor));
    const e = env();
    const first = await runCli(['run', 'build', '--json'], { cwd: dir, env: e });
    expect(warnings(first.stderr)).toEqual([]);
    expect(first.code).toBe(0);
    const s1 = parse(first.stdout);
    expect(s1.counts).toMatchObject({ tasks: 4, misses: 4, hitsLocal: 0, hitsRemote: 0, failed: 0 });
    expect(s1.tasks.map((t) => t.upload)).toEqual(['uploaded', 'uploaded', 'uploaded', 'uploaded']);
    expect(await runsLog(dir)).toEqual(['@fx/a', '@fx/b', '@fx/c', '@fx/d']);
    const before = await snapshot(dir, OUTPUT_ROOTS);
    expect(before['packages/a/dist/empty']).toBe('dir 755');
    expect(before['packages/a/dist/cli.sh']).toMatch(/^file 755 /);
    expect(before['packages/a/coverage/not-an-output.txt']).toBeUndefined();

    await wipe(dir);
    const second = await runCli(['run', 'build', '--json'], { cwd: dir, env: e });
    expect(second.code).toBe(0);
    const s2 = parse(second.stdout);
    expect(s2.counts).toMatchObject({ tasks: 4, hitsRemote: 4, hitsLocal: 0, misses: 0 });
    expect(s2.tasks.map((t) => t.key)).toEqual(s1.tasks.map((t) => t.key));
    // Commands not executed: the side effect did not happen again.
    expect(await runsLog(dir)).toEqual(['@fx/a', '@fx/b', '@fx/c', '@fx/d']);
    expect(await snapshot(dir, OUTPUT_ROOTS)).toEqual(before);
    // Logs replayed, stdout and stderr, with the task prefix.
    expect(second.stderr).toContain('@fx/b:build: built @fx/b with');
    expect(second.stderr).toContain('@fx/c:build: warning from @fx/c');
    expect(second.stderr).toContain('cache hit (remote)');

    // Third run, outputs wiped but the local cache kept: all local hits.
    for (const p of PACKAGES) await rm(join(dir, 'packages', p, 'dist'), { recursive: true, force: true });
    const third = parse((await runCli(['run', 'build', '--json'], { cwd: dir, env: e })).stdout);
    expect(third.counts).toMatchObject({ hitsLocal: 4, hitsRemote: 0, misses: 0 });
    expect(await snapshot(dir, OUTPUT_ROOTS)).toEqual(before);
  });

  it('re-runs exactly the changed task and its dependents', async () => {
    const dir = await gitdir(monorepoFiles(flavor));
    const e = env();
    const first = parse((await runCli(['run', 'build', '--json'], { cwd: dir, env: e })).stdout);
    await writeFile(join(dir, 'packages/b/src/index.js'), 'export const b = 20;\n');
    // Changes git ignores are not inputs.
    await writeFile(join(dir, 'packages/a/src/ignored.tmp'), 'changed');
    await writeFile(join(dir, 'packages/b/local-notes.txt'), 'changed');
    await writeFile(join(dir, 'runs.log'), '');
    const second = parse((await runCli(['run', 'build', '--json'], { cwd: dir, env: e })).stdout);
    const status = Object.fromEntries(second.tasks.map((t) => [t.id, t.status]));
    expect(status).toEqual({ '@fx/a#build': 'hit-local', '@fx/b#build': 'miss', '@fx/c#build': 'miss', '@fx/d#build': 'hit-local' });
    expect(await runsLog(dir)).toEqual(['@fx/b', '@fx/c']);
    const key = (s: Summary, id: string): string | undefined => s.tasks.find((t) => t.id === id)?.key;
    expect(key(second, '@fx/a#build')).toBe(key(first, '@fx/a#build'));
    expect(key(second, '@fx/c#build')).not.toBe(key(first, '@fx/c#build'));
  });

  it('fails the run with the exit code of a failing task and caches nothing for it', async () => {
    const dir = await gitdir(monorepoFiles(flavor));
    const e = env();
    await writeFile(join(dir, 'packages/b/src/index.js'), '// FAIL_WITH_7\n');
    const first = await runCli(['run', 'build', '--json', '--concurrency', '1'], { cwd: dir, env: e });
    expect(first.code).toBe(7);
    expect(first.stderr).toContain('velocity: task @fx/b#build failed with exit code 7');
    expect(first.stderr).not.toMatch(/\n\s+at /);
    const s = parse(first.stdout);
    const status = Object.fromEntries(s.tasks.map((t) => [t.id, t.status]));
    expect(status['@fx/b#build']).toBe('failed');
    expect(status['@fx/c#build']).toBe('not-run');
    const failedKey = s.tasks.find((t) => t.id === '@fx/b#build')?.key as string;
    expect((await readdir(join(dir, '.velocity/cache'))).filter((f) => f.startsWith(failedKey))).toEqual([]);
    // Not in the remote either: a fresh checkout runs it again (and fails again).
    await wipe(dir);
    await writeFile(join(dir, 'runs.log'), '');
    const again = await runCli(['run', 'build', '--json'], { cwd: dir, env: e });
    expect(again.code).toBe(7);
    expect(await runsLog(dir)).toContain('@fx/b');
  });
});

describe('velocity run when the remote cannot be used', () => {
  let gw: TestGateway;
  let deadUrl: string;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local' });
    // A port nothing listens on: taken from the OS, then released.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    deadUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((resolve) => server.close(resolve));
  });
  afterAll(async () => {
    await gw.close();
  });

  it.each([
    ['the gateway is down', (): Record<string, string> => ({ FIXTURE_REMOTE_URL: deadUrl, FIXTURE_REMOTE_TOKEN: 'x' }), /ECONNREFUSED/],
    ['the token is wrong', (): Record<string, string> => ({ FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: 'not-the-token' }), /HTTP 401/],
  ])('runs the tasks and succeeds with one warning when %s', async (_name, env, pattern) => {
    const dir = await gitdir(monorepoFiles('npm'));
    const result = await runCli(['run', 'build', '--json'], { cwd: dir, env: { ...env(), FIXTURE_FLAVOR: `down-${Date.now()}` } });
    expect(result.code).toBe(0);
    const w = warnings(result.stderr);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(pattern);
    const s = parse(result.stdout);
    expect(s.counts).toMatchObject({ tasks: 4, misses: 4, failed: 0 });
    expect(s.tasks.every((t) => t.upload === 'unavailable' || t.upload === null)).toBe(true);
    expect(await runsLog(dir)).toEqual(['@fx/a', '@fx/b', '@fx/c', '@fx/d']);
  });

  it('runs the tasks and succeeds with one warning when the gateway cannot reach its store', async () => {
    const dead = deadUrl;
    const broken = await startGateway({
      driver: 'local',
      config: { storage: { driver: 's3', s3: { endpoint: dead, bucket: 'nope', forcePathStyle: true, createBucket: false, integrity: 'md5', timeout: 1 } } },
    });
    try {
      const dir = await gitdir(monorepoFiles('npm'));
      const result = await runCli(['run', 'build', '--json'], { cwd: dir, env: { FIXTURE_REMOTE_URL: broken.url, FIXTURE_REMOTE_TOKEN: broken.token, FIXTURE_FLAVOR: `503-${Date.now()}` } });
      expect(result.code).toBe(0);
      const w = warnings(result.stderr);
      expect(w).toHaveLength(1);
      // The gateway should answer storage_unavailable (503); any refusal must leave the run alone.
      expect(w[0]).toMatch(/HTTP 5\d\d|negotiation refused|storage/);
      expect(parse(result.stdout).counts).toMatchObject({ misses: 4, failed: 0 });
    } finally {
      await broken.close();
    }
  });

  it('runs the tasks and succeeds with one warning when the gateway does not answer in time', async () => {
    // Accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const files = monorepoFiles('npm');
      files['velocity.yml'] = (files['velocity.yml'] as string).replace('timeout_ms: 3000', 'timeout_ms: 300');
      const dir = await gitdir(files);
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const result = await runCli(['run', 'build', '--json'], { cwd: dir, env: { FIXTURE_REMOTE_URL: url, FIXTURE_REMOTE_TOKEN: 't' } });
      expect(result.code).toBe(0);
      const w = warnings(result.stderr);
      expect(w).toHaveLength(1);
      expect(w[0]).toMatch(/timed out/);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('runs every command again with --force, and the result is still stored', async () => {
    const env = { FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: gw.token, FIXTURE_FLAVOR: `force-${Date.now()}` };
    const dir = await gitdir(monorepoFiles('npm'));
    expect((await runCli(['run', 'build'], { cwd: dir, env })).code).toBe(0);
    const forced = parse((await runCli(['run', 'build', '--force', '--json'], { cwd: dir, env })).stdout);
    expect(forced.counts).toMatchObject({ misses: 4, hitsLocal: 0, hitsRemote: 0 });
    expect(forced.tasks.map((t) => t.upload)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
    expect((await runsLog(dir)).length).toBe(8);
  });

  it('gives the same keys for the same tree checked out at two paths, and shares hits between them', async () => {
    const env = { FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: gw.token, FIXTURE_FLAVOR: `paths-${Date.now()}` };
    const one = await gitdir(monorepoFiles('npm'), 'velocity-path-one-');
    const two = await gitdir(monorepoFiles('npm'), 'velocity-other-checkout-');
    const keysOf = async (dir: string): Promise<string[]> => {
      const r = await runCli(['run', 'build', '--dry-run', '--json'], { cwd: dir, env });
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as { tasks: Array<{ key: string }> }).tasks.map((t) => t.key);
    };
    expect(await keysOf(one)).toEqual(await keysOf(two));
    expect((await runCli(['run', 'build'], { cwd: one, env })).code).toBe(0);
    const second = parse((await runCli(['run', 'build', '--json'], { cwd: join(two, 'packages', 'c'), env })).stdout);
    expect(second.counts.hitsRemote).toBe(4);
    expect(await runsLog(two)).toEqual([]);
  });
});
