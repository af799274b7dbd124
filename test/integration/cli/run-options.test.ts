import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gitdir, monorepoFiles, removeGitdirs, type TreeEntry } from '../../fixtures/cli/monorepo.js';
import { ensureBuiltCli, spawnCli } from './spawn-cli.js';

// The fixture: @fx/a <- @fx/b <- @fx/c, @fx/d alone; a source holding FAIL_WITH_<n> exits n.
const fail = (code: number): string => `// FAIL_WITH_${code}\n`;
const runsLog = async (dir: string): Promise<string[]> =>
  existsSync(join(dir, 'runs.log')) ? (await readFile(join(dir, 'runs.log'), 'utf8')).split('\n').filter(Boolean) : [];
const statusOf = (stdout: string): Record<string, string> =>
  Object.fromEntries((JSON.parse(stdout) as { tasks: Array<{ id: string; status: string }> }).tasks.map((t) => [t.id, t.status]));

beforeAll(() => ensureBuiltCli(), 180_000);
afterAll(removeGitdirs);

describe('--continue', () => {
  it('keeps running independent tasks after a failure, skips its dependents, exits with its code', async () => {
    const dir = await gitdir({ ...monorepoFiles('npm', { remote: false }), 'packages/b/src/index.js': fail(7) });
    const r = await spawnCli(['run', 'build', '--continue', '--concurrency', '1', '--json'], dir);
    expect(r.code).toBe(7);
    expect(statusOf(r.stdout)).toEqual({ '@fx/a#build': 'miss', '@fx/b#build': 'failed', '@fx/c#build': 'not-run', '@fx/d#build': 'miss' });
    expect((await runsLog(dir)).sort()).toEqual(['@fx/a', '@fx/b', '@fx/d']);
    expect(r.stderr).toContain('@fx/b:build: failed with exit code 7\n');
    expect(r.stderr).toContain('velocity: task @fx/b#build failed with exit code 7\n');
  });

  it('exits with the code of the first task to fail in time, not in graph order', async () => {
    // One slot: a runs, then d (queued at the start) fails with 5, then b, then c fails with 7.
    // Graph order lists c before d; the run's code is d's.
    const files = { ...monorepoFiles('npm', { remote: false }), 'packages/c/src/index.js': fail(7), 'packages/d/src/index.js': fail(5) };
    const continued = await gitdir(files);
    const r = await spawnCli(['run', 'build', '--continue', '--concurrency', '1', '--json'], continued);
    expect(await runsLog(continued)).toEqual(['@fx/a', '@fx/d', '@fx/b', '@fx/c']);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stdout)).toMatchObject({ exitCode: 5, counts: { failed: 2, notRun: 0 } });
    expect(r.stderr).toContain('velocity: task @fx/d#build failed with exit code 5\n');
    // Without --continue the first failure stops everything not yet started.
    const stopped = await gitdir(files);
    const s = await spawnCli(['run', 'build', '--concurrency', '1', '--json'], stopped);
    expect(s.code).toBe(5);
    expect(statusOf(s.stdout)).toEqual({ '@fx/a#build': 'miss', '@fx/b#build': 'not-run', '@fx/c#build': 'not-run', '@fx/d#build': 'failed' });
    expect(await runsLog(stopped)).toEqual(['@fx/a', '@fx/d']);
  });
});

describe('--output-logs and --log-order', () => {
  /** a cached (a hit), b changed (a miss, and c after it), d failing with 3. */
  async function mixedRun(args: string[]): Promise<{ code: number; stderr: string }> {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    expect((await spawnCli(['run', 'build', '--filter', '@fx/a'], dir)).code).toBe(0);
    await writeFile(join(dir, 'packages/d/src/index.js'), fail(3));
    const r = await spawnCli(['run', 'build', '--continue', ...args], dir);
    expect(r.code).toBe(3);
    return r;
  }
  const HIT_REPLAYED = /@fx\/a:build: cache hit \(local\) [0-9a-f]{16}, replaying logs\n@fx\/a:build: built @fx\/a with/;
  const HIT_SUPPRESSED = /@fx\/a:build: cache hit \(local\) [0-9a-f]{16}, suppressing logs\n/;
  const MISS = /@fx\/b:build: cache miss [0-9a-f]{16}, running: node \.\.\/\.\.\/tools\/build\.mjs\n/;
  const MISS_OUTPUT = '@fx/b:build: built @fx/b with';
  const FAILED_HEADER = /@fx\/d:build: cache miss [0-9a-f]{16}, running: /;
  const FAILED_OUTPUT = '@fx/d:build: build of @fx/d failed on purpose\n';
  const FAILED_LINE = '@fx/d:build: failed with exit code 3\n';

  it('full (the default): hits replayed, live output, the failure', async () => {
    const { stderr } = await mixedRun([]);
    expect(stderr).toMatch(HIT_REPLAYED);
    expect(stderr).toMatch(MISS);
    expect(stderr).toContain(MISS_OUTPUT);
    expect(stderr).toMatch(FAILED_HEADER);
    expect(stderr).toContain(FAILED_OUTPUT);
    expect(stderr).toContain(FAILED_LINE);
  });

  it('hash-only: the hit and miss lines, no output of any task', async () => {
    const { stderr } = await mixedRun(['--output-logs=hash-only']);
    expect(stderr).toMatch(HIT_SUPPRESSED);
    expect(stderr).toMatch(MISS);
    expect(stderr).not.toContain(MISS_OUTPUT);
    expect(stderr).toMatch(FAILED_HEADER);
    expect(stderr).not.toContain(FAILED_OUTPUT);
    expect(stderr).toContain(FAILED_LINE);
  });

  it('new-only: hits suppressed, what ran shown', async () => {
    const { stderr } = await mixedRun(['--output-logs', 'new-only']);
    expect(stderr).toMatch(HIT_SUPPRESSED);
    expect(stderr).not.toContain('@fx/a:build: built');
    expect(stderr).toMatch(MISS);
    expect(stderr).toContain(MISS_OUTPUT);
    expect(stderr).toContain(FAILED_OUTPUT);
    expect(stderr).toContain(FAILED_LINE);
  });

  it('errors-only: only the failed task, whole, in one block', async () => {
    const { stderr } = await mixedRun(['--output-logs=errors-only']);
    expect(stderr).not.toContain('@fx/a:');
    expect(stderr).not.toContain('@fx/b:');
    expect(stderr).not.toContain('@fx/c:');
    const block = stderr.split('\n').filter((l) => l.startsWith('@fx/d:build: '));
    expect(block[0]).toMatch(FAILED_HEADER);
    expect(block.at(-1)).toBe('@fx/d:build: failed with exit code 3');
    expect(stderr).toContain(`${block.join('\n')}\n`);
    expect(stderr).toContain(FAILED_OUTPUT);
  });

  it('none: nothing but the failure', async () => {
    const { stderr } = await mixedRun(['--output-logs=none']);
    expect(stderr.split('\n').filter((l) => /^@fx\/[a-d]:build: /.test(l))).toEqual(['@fx/d:build: failed with exit code 3']);
    expect(stderr).toContain(' Failed:   @fx/d#build (exit code 3)');
  });

  it('rejects an unknown mode or order', async () => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    const mode = await spawnCli(['run', 'build', '--output-logs=some'], dir);
    expect([mode.code, mode.stderr]).toEqual([2, 'velocity: --output-logs must be one of full, hash-only, new-only, errors-only, none, got "some"\n']);
    const order = await spawnCli(['run', 'build', '--log-order=random'], dir);
    expect([order.code, order.stderr]).toEqual([2, 'velocity: --log-order must be one of stream, grouped, got "random"\n']);
    expect(await runsLog(dir)).toEqual([]);
  });

  /**
   * Two tasks whose lines alternate in time: x prints x1, lets y print y1, waits for y's turn,
   * prints x2, and so on (files as turn tokens, so the order does not depend on timing).
   */
  const pingPong = (): Record<string, TreeEntry> => {
    const turn = (me: string, other: string): string =>
      [
        "import { existsSync, writeFileSync } from 'node:fs';",
        "const wait = (f) => new Promise((r) => { const t = setInterval(() => { if (existsSync(f)) { clearInterval(t); r(); } }, 5); });",
        `if (${me === 'y' ? 'true' : 'false'}) await wait('../../turn-x1');`,
        `console.log('${me}1'); writeFileSync('../../turn-${me}1', '');`,
        `await wait('../../turn-${other}${me === 'x' ? 1 : 2}');`,
        `console.log('${me}2'); writeFileSync('../../turn-${me}2', '');`,
      ].join('\n');
    return {
      'package.json': JSON.stringify({ name: 'pp', private: true, workspaces: ['packages/*'] }),
      '.gitignore': 'turn-*\n.velocity/\n',
      'velocity.yml': 'version: 1\npipeline:\n  talk:\n    command: node talk.mjs\n',
      'packages/x/package.json': JSON.stringify({ name: 'x' }),
      'packages/y/package.json': JSON.stringify({ name: 'y' }),
      'packages/x/talk.mjs': turn('x', 'y'),
      'packages/y/talk.mjs': turn('y', 'x'),
    };
  };

  it.each([
    ['stream', ['x:talk: x1', 'y:talk: y1', 'x:talk: x2', 'y:talk: y2']],
    ['grouped', ['x:talk: x1', 'x:talk: x2', 'y:talk: y1', 'y:talk: y2']],
  ])('--log-order=%s', async (order, expected) => {
    const dir = await gitdir(pingPong());
    const r = await spawnCli(['run', 'talk', `--log-order=${order}`, '--concurrency=2', '--output-logs=new-only'], dir);
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => /^[xy]:talk: [xy]\d$/.test(l));
    expect(lines).toEqual(expected);
    if (order === 'grouped') {
      // Each block whole: the header line, then the task's output.
      expect(r.stderr).toMatch(/x:talk: cache miss [0-9a-f]{16}, running: node talk\.mjs\nx:talk: x1\nx:talk: x2\n/);
    }
  });
});

describe('--force', () => {
  it('says cache bypass, as turbo does, and still stores the results', async () => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    expect((await spawnCli(['run', 'build', '--filter', '@fx/d'], dir)).code).toBe(0);
    const forced = await spawnCli(['run', 'build', '--filter', '@fx/d', '--force'], dir);
    expect(forced.stderr).toMatch(/@fx\/d:build: cache bypass [0-9a-f]{16}, force running: node \.\.\/\.\.\/tools\/build\.mjs\n/);
    expect(forced.stderr).not.toContain('cache miss');
    expect(await runsLog(dir)).toEqual(['@fx/d', '@fx/d']);
    expect((await spawnCli(['run', 'build', '--filter', '@fx/d'], dir)).stderr).toContain('@fx/d:build: cache hit (local)');
  });
});
