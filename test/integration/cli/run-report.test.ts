import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliIo, TextSink } from '../../../src/cli/io.js';
import { main } from '../../../src/cli/main.js';
import { runSummarySchema, type RunSummaryFile } from '../../../src/cli/report/run-summary-schema.js';
import { gitdir, monorepoFiles, removeGitdirs } from '../../fixtures/cli/monorepo.js';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { ensureBuiltCli, spawnCli } from './spawn-cli.js';

beforeAll(() => ensureBuiltCli(), 180_000);
afterAll(removeGitdirs);

const ESC = '\u001b[';

async function summaries(dir: string): Promise<RunSummaryFile[]> {
  const runs = join(dir, '.velocity', 'runs');
  const files = (await readdir(runs)).sort();
  // Validated against the published schema: a field renamed or retyped fails here.
  return Promise.all(files.map(async (f) => runSummarySchema.parse(JSON.parse(await readFile(join(runs, f), 'utf8')))));
}

describe('--summarize', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local' });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('writes .velocity/runs/<id>.json: hits (local, remote), misses, bypasses, failures, tasks not run, env names without values', async () => {
    const secret = `flavor-secret-${Date.now()}`;
    const env = { FIXTURE_REMOTE_URL: gw.url, FIXTURE_REMOTE_TOKEN: gw.token, FIXTURE_FLAVOR: secret };
    const dir = await gitdir(monorepoFiles('npm'));
    const first = await spawnCli(['run', 'build', '--summarize'], dir, env);
    expect(first.code).toBe(0);
    const [s1] = await summaries(dir);
    expect(first.stderr).toContain(` Summary:  .velocity/runs/${s1?.id}.json\n`);
    expect(s1).toMatchObject({ version: 1, command: 'velocity run build --summarize', requested: ['build'], exitCode: 0, success: true, force: false, continue: false, affected: false, filters: [] });
    expect(s1?.packages).toEqual(['@fx/a', '@fx/b', '@fx/c', '@fx/d']);
    expect(s1?.tasks.map((t) => [t.id, t.cache?.status, t.execution.status, t.upload])).toEqual([
      ['@fx/a#build', 'MISS', 'succeeded', 'uploaded'],
      ['@fx/b#build', 'MISS', 'succeeded', 'uploaded'],
      ['@fx/c#build', 'MISS', 'succeeded', 'uploaded'],
      ['@fx/d#build', 'MISS', 'succeeded', 'uploaded'],
    ]);
    const b = s1?.tasks.find((t) => t.id === '@fx/b#build');
    expect(b).toMatchObject({
      package: '@fx/b', task: 'build', directory: 'packages/b', command: 'node ../../tools/build.mjs',
      outputs: ['dist/**', 'types/', 'coverage/lcov.info'], dependencies: ['@fx/a#build'], dependents: ['@fx/c#build'], env: ['FIXTURE_FLAVOR'],
    });
    expect(Date.parse(b?.execution.end ?? '')).toBeGreaterThanOrEqual(Date.parse(b?.execution.start ?? ''));
    expect(Date.parse(s1?.end ?? '') - Date.parse(s1?.start ?? '')).toBe(s1?.durationMs);
    const raw = await readFile(join(dir, '.velocity', 'runs', `${s1?.id}.json`), 'utf8');
    expect(raw).not.toContain(secret);
    expect(raw).not.toContain(gw.token);

    // Remote hits for a and b (local cache gone), c forced to fail, d a local hit... run by run.
    await rm(join(dir, '.velocity', 'cache'), { recursive: true });
    await writeFile(join(dir, 'packages/c/src/index.js'), '// FAIL_WITH_4\n');
    const second = await spawnCli(['run', 'build', '--summarize', '--continue', '--filter', '!@fx/d'], dir, env);
    expect(second.code).toBe(4);
    const s2 = (await summaries(dir))[1];
    expect(s2).toMatchObject({ exitCode: 4, success: false, continue: true, filters: ['!@fx/d'], packages: ['@fx/a', '@fx/b', '@fx/c'] });
    expect(s2?.tasks.map((t) => [t.id, t.cache, t.execution.status, t.execution.exitCode])).toEqual([
      ['@fx/a#build', { status: 'HIT', source: 'REMOTE', timeSavedMs: expect.any(Number) }, 'succeeded', 0],
      ['@fx/b#build', { status: 'HIT', source: 'REMOTE', timeSavedMs: expect.any(Number) }, 'succeeded', 0],
      ['@fx/c#build', { status: 'MISS', source: null, timeSavedMs: 0 }, 'failed', 4],
    ]);

    await writeFile(join(dir, 'packages/c/src/index.js'), 'export const c = 3;\n');
    await writeFile(join(dir, 'packages/a/src/index.js'), '// FAIL_WITH_6\n');
    const third = await spawnCli(['run', 'build', '--summarize', '--force', '--filter', '@fx/c...'], dir, env);
    expect(third.code).toBe(6);
    const s3 = (await summaries(dir))[2];
    expect(s3?.tasks.map((t) => [t.id, t.cache?.status ?? null, t.execution])).toEqual([
      ['@fx/a#build', 'BYPASS', { status: 'failed', start: expect.any(String), end: expect.any(String), durationMs: expect.any(Number), exitCode: 6 }],
      ['@fx/b#build', null, { status: 'not-run', start: null, end: null, durationMs: 0, exitCode: null }],
      ['@fx/c#build', null, { status: 'not-run', start: null, end: null, durationMs: 0, exitCode: null }],
    ]);
    // Ids sort by start time.
    expect((await summaries(dir)).map((s) => s.command)).toEqual([
      'velocity run build --summarize',
      "velocity run build --summarize --continue --filter '!@fx/d'",
      'velocity run build --summarize --force --filter @fx/c...',
    ]);
  });

  it('the schema refuses what the documentation rules out', () => {
    const valid = { version: 1, id: '20250102T030405678Z-1a2b3c4d', velocityVersion: '0.1.0', command: 'velocity run build', requested: ['build'], start: '2025-01-02T03:04:05.678Z', end: '2025-01-02T03:04:06.000Z', durationMs: 322, exitCode: 0, success: true, envMode: 'strict', force: false, continue: false, packages: [], filters: [], affected: false, remote: { enabled: false, problem: null }, counts: { tasks: 0, hitsLocal: 0, hitsRemote: 0, misses: 0, failed: 0, notRun: 0 }, tasks: [] };
    expect(runSummarySchema.safeParse(valid).success).toBe(true);
    expect(runSummarySchema.safeParse({ ...valid, version: 2 }).success).toBe(false);
    expect(runSummarySchema.safeParse({ ...valid, id: '../escape' }).success).toBe(false);
    const task = { id: 'a#build', package: 'a', task: 'build', directory: 'a', command: 'x', hash: 'f'.repeat(64), cache: { status: 'HIT', source: 'LOCAL', timeSavedMs: 1 }, execution: { status: 'succeeded', start: valid.start, end: valid.end, durationMs: 1, exitCode: 0 }, outputs: [], dependencies: [], dependents: [], env: ['NODE_ENV'], upload: null };
    expect(runSummarySchema.safeParse({ ...valid, tasks: [task] }).success).toBe(true);
    expect(runSummarySchema.safeParse({ ...valid, tasks: [{ ...task, cache: { ...task.cache, status: 'hit' } }] }).success).toBe(false);
    expect(runSummarySchema.safeParse({ ...valid, tasks: [{ ...task, hash: 'short' }] }).success).toBe(false);
  });
});

describe('--graph', () => {
  it('prints DOT on stdout, runs nothing', async () => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    const r = await spawnCli(['run', 'build', '--graph'], dir);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        'digraph velocity {',
        '\tnode [shape = "box"]',
        '\t"@fx/a#build"',
        '\t"@fx/b#build"',
        '\t"@fx/c#build"',
        '\t"@fx/d#build"',
        '\t"@fx/b#build" -> "@fx/a#build"',
        '\t"@fx/c#build" -> "@fx/b#build"',
        '}',
        '',
      ].join('\n'),
    );
    await expect(readdir(join(dir, 'packages/a'))).resolves.not.toContain('dist');
  });

  it('writes DOT or Mermaid by the file extension, after --filter', async () => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    const dot = await spawnCli(['run', 'build', '--graph=out/tasks.dot', '--filter', '@fx/b'], dir);
    expect(dot.code).toBe(0);
    expect(await readFile(join(dir, 'out/tasks.dot'), 'utf8')).toBe('digraph velocity {\n\tnode [shape = "box"]\n\t"@fx/a#build"\n\t"@fx/b#build"\n\t"@fx/b#build" -> "@fx/a#build"\n}\n');
    // An existing file is replaced.
    await writeFile(join(dir, 'tasks.gv'), 'old');
    const gv = await spawnCli(['run', 'build', '--graph=tasks.gv', '--filter', '@fx/b'], dir);
    expect(gv.code).toBe(0);
    expect(gv.stderr).toContain(`Task graph (2 tasks) written to ${join(dir, 'tasks.gv')}`);
    expect(await readFile(join(dir, 'tasks.gv'), 'utf8')).toContain('\t"@fx/b#build" -> "@fx/a#build"\n');
    for (const file of ['tasks.mmd', 'tasks.mermaid']) {
      const r = await spawnCli(['run', 'build', `--graph=${file}`], join(dir, 'packages', 'c'));
      expect(r.code).toBe(0);
      expect(await readFile(join(dir, 'packages', 'c', file), 'utf8')).toBe(
        ['graph TD', '\tT0["@fx/a#build"]', '\tT1["@fx/b#build"]', '\tT2["@fx/c#build"]', '\tT3["@fx/d#build"]', '\tT1 --> T0', '\tT2 --> T1', ''].join('\n'),
      );
    }
    const bad = await spawnCli(['run', 'build', '--graph=tasks.svg'], dir);
    expect([bad.code, bad.stderr]).toEqual([2, 'velocity: --graph: cannot write "tasks.svg": use .dot or .gv (Graphviz DOT), .mmd or .mermaid (Mermaid)\n']);
    // `--graph build` does not silently take the task for a file name.
    const swallowed = await spawnCli(['run', '--graph', 'build'], dir);
    expect(swallowed.code).toBe(2);
  });
});

describe('coloured task prefixes', () => {
  const PREFIX = new RegExp(`${ESC.replace('[', '\\[')}\\d+m@fx/d:build:${ESC.replace('[', '\\[')}39m `);

  it.each<[string, Record<string, string | undefined>, boolean]>([
    ['a pipe: no colour', {}, false],
    ['a pipe with FORCE_COLOR=1: colour', { FORCE_COLOR: '1' }, true],
    ['FORCE_COLOR wins over NO_COLOR', { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
    ['FORCE_COLOR=0: none', { FORCE_COLOR: '0' }, false],
    ['NO_COLOR: none', { NO_COLOR: '1' }, false],
  ])('%s', async (_name, env, colored) => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    const r = await spawnCli(['run', 'build', '--filter', '@fx/d', '--json'], dir, env);
    expect(r.code).toBe(0);
    if (colored) expect(r.stderr).toMatch(PREFIX);
    else expect(r.stderr).not.toContain(ESC);
    expect(r.stdout).not.toContain(ESC);
  });

  async function inProcess(dir: string, isTTY: boolean, env: Record<string, string | undefined>): Promise<string> {
    let text = '';
    const sink: TextSink = { isTTY, write: (s: string) => (text += s) };
    const quiet: TextSink = { write: () => true };
    const io: CliIo = { stdout: quiet, stderr: sink, cwd: dir, env: { ...process.env, CI: '1', NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm', ...env }, fetch: globalThis.fetch, now: () => Date.now() };
    expect(await main(['run', 'build', '--filter', '@fx/d', '--force'], io)).toBe(0);
    return text;
  }

  it('a terminal gets colour unless NO_COLOR or TERM=dumb; each package keeps its colour', async () => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    const tty = await inProcess(dir, true, {});
    expect(tty).toMatch(PREFIX);
    const again = await inProcess(dir, true, {});
    expect(again.match(PREFIX)?.[0]).toBe(tty.match(PREFIX)?.[0]);
    expect(await inProcess(dir, true, { NO_COLOR: '1' })).not.toContain(ESC);
    expect(await inProcess(dir, true, { TERM: 'dumb' })).not.toContain(ESC);
  });
});
