import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../../..');
export const VELOCITY_BIN = join(REPO, 'dist', 'bin', 'velocity.js');

export interface SpawnResult {
  code: number;
  stdout: string;
  stderr: string;
}

function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) max = Math.max(max, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return max;
}

/**
 * Builds the bundled CLI when dist/ is missing or older than src/cli (a test run without
 * `npm run build` first), so the tests below always drive the binary users get.
 */
export function ensureBuiltCli(): void {
  if (existsSync(VELOCITY_BIN) && statSync(VELOCITY_BIN).mtimeMs >= newest(join(REPO, 'src', 'cli'))) return;
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'ignore' });
  execFileSync(process.execPath, [join(REPO, 'scripts', 'bundle-cli.mjs')], { cwd: REPO, stdio: 'ignore' });
}

/**
 * Runs `node dist/bin/velocity.js <args>` in `cwd` with pipes for stdout and stderr (never a
 * terminal). The environment is the test's, minus what would change the output under test
 * (colour variables, a cache folder), plus `env`; a value of `undefined` removes a variable.
 */
export function spawnCli(args: readonly string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<SpawnResult> {
  const merged: Record<string, string | undefined> = { ...process.env, CI: '1', NO_COLOR: undefined, FORCE_COLOR: undefined, VELOCITY_CACHE_DIR: undefined, VELOCITY_SCM_BASE: undefined, VELOCITY_SCM_HEAD: undefined, ...env };
  const childEnv = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
  return new Promise((done) => {
    execFile(process.execPath, [VELOCITY_BIN, ...args], { cwd, env: childEnv, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** git in a fixture repository, with a fixed identity and no user or system configuration. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Fixture',
      GIT_AUTHOR_EMAIL: 'fixture@example.com',
      GIT_COMMITTER_NAME: 'Fixture',
      GIT_COMMITTER_EMAIL: 'fixture@example.com',
    },
  });
}

/** Commits everything in the work tree with `message`. */
export function commitAll(cwd: string, message: string): void {
  git(cwd, 'add', '-A');
  git(cwd, 'commit', '-q', '-m', message);
}
