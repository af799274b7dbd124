import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { gitdir, monorepoFiles, removeGitdirs } from '../../fixtures/cli/monorepo.js';
import { runCli } from './run-cli.js';

afterAll(removeGitdirs);

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../../..');
const BIN = join(REPO, 'dist', 'bin', 'velocity.js');

/** The newest modification time under a folder (to tell whether dist/ is older than src/cli). */
async function newest(dir: string): Promise<number> {
  let max = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) max = Math.max(max, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return max;
}

describe('velocity doctor against a real gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local' });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('passes every check with a good token, including a probe round trip', async () => {
    const dir = await gitdir(monorepoFiles('npm'));
    const r = await runCli(['doctor', '--json'], { cwd: dir, env: { FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: gw.token } });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(['config', 'local cache', 'reachable', 'clock', 'store ready', 'capabilities', 'token, read scope', 'write scope', 'round trip']);
    expect(report.checks.find((c) => c.name === 'round trip')?.detail).toMatch(/digests match/);
  });

  it('says the token is wrong and how to fix it, exit code 1', async () => {
    const dir = await gitdir(monorepoFiles('npm'));
    const r = await runCli(['doctor'], { cwd: dir, env: { FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: 'wrong' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FAIL {2}token, read scope +token rejected \(HTTP 401/);
    expect(r.stderr).toMatch(/fix: set remote\.token/);
    expect(r.stderr).toContain('velocity: doctor found 1 problem');
  });

  it('reports an unreachable gateway and unset variables', async () => {
    const dir = await gitdir(monorepoFiles('npm'));
    const down = await runCli(['doctor'], { cwd: dir, env: { FIXTURE_REMOTE_URL: 'http://127.0.0.1:1', FIXTURE_REMOTE_TOKEN: 'x' } });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/FAIL {2}reachable/);
    const unset = await runCli(['doctor'], { cwd: dir, env: { FIXTURE_REMOTE_URL: undefined, FIXTURE_REMOTE_TOKEN: undefined } });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('$FIXTURE_REMOTE_URL, $FIXTURE_REMOTE_TOKEN not set');
  });
});

describe('the built velocity binary', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local', config: { cache: { multipartThreshold: 6 * 1024 * 1024 } } });
    if (!existsSync(BIN) || statSync(BIN).mtimeMs < (await newest(join(REPO, 'src', 'cli')))) {
      await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO }).catch(() => undefined);
    }
  }, 120_000);
  afterAll(async () => {
    await gw.close();
  });

  const spawnCli = async (args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, CI: '1', ...env }, timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('runs, uploads a multipart artifact, restores it from the remote, and exits with a failing task\'s code', async () => {
    const files = monorepoFiles('npm');
    // One output big enough for a multipart upload (over the gateway's 6 MiB threshold, two parts),
    // in its own folder: outputs of tasks that may run side by side must not overlap.
    files['packages/d/package.json'] = JSON.stringify({ name: '@fx/d', version: '1.0.0' });
    files['velocity.yml'] = `${files['velocity.yml'] as string}  big:\n    command: node -e "require('fs').mkdirSync('big',{recursive:true});require('fs').writeFileSync('big/big.bin',require('crypto').randomBytes(20*1024*1024))"\n    outputs: ["big/big.bin"]\n`;
    const dir = await gitdir(files);
    const env = { FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: gw.token, FIXTURE_FLAVOR: `bin-${Date.now()}` };
    const first = await spawnCli(['run', 'build', 'big', '--json', '--filter', '@fx/d'], dir, env);
    // Whole results on failure: the stderr says what went wrong.
    expect(first).toMatchObject({ code: 0, stderr: expect.not.stringContaining('velocity: warning') as unknown });
    const s1 = JSON.parse(first.stdout) as { tasks: Array<{ id: string; upload: string }> };
    expect(s1.tasks.map((t) => [t.id, t.upload])).toEqual([['@fx/d#big', 'uploaded'], ['@fx/d#build', 'uploaded']]);
    const big = await readFile(join(dir, 'packages/d/big/big.bin'));
    await rm(join(dir, '.velocity'), { recursive: true });
    await rm(join(dir, 'packages/d/big'), { recursive: true });
    const second = await spawnCli(['run', 'big', '--json', '--filter', '@fx/d'], dir, env);
    expect(second).toMatchObject({ code: 0 });
    expect((JSON.parse(second.stdout) as { counts: { hitsRemote: number } }).counts.hitsRemote).toBe(1);
    expect((await readFile(join(dir, 'packages/d/big/big.bin'))).equals(big)).toBe(true);

    await writeFile(join(dir, 'packages/a/src/index.js'), '// FAIL_WITH_42\n');
    const failing = await spawnCli(['run', 'build'], dir, env);
    expect(failing.code).toBe(42);
    expect(failing.stderr).toContain('velocity: task @fx/a#build failed with exit code 42');
    expect(failing.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
