import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { gitdir, removeGitdirs, remoteYmlHeader } from '../fixtures/cli/monorepo.js';
import { runCli, type CliResult } from '../integration/cli/run-cli.js';

// Issue 9, item 7: `velocity run` passed the whole environment to tasks but hashed only the
// variables listed in `env`, so `FAIL_TEST=1 velocity run test` replayed a cached success. A
// cached result may be replayed only for the same inputs: tasks see only the variables their key
// covers, a documented safe set and the `pass_through_env` lists; Velocity's own variables (VC_*,
// the remote token) never reach a task undeclared, not even with --env-mode=loose.

afterAll(removeGitdirs);

// Records what the task saw (names and values) and fails when FAIL_TEST=1 reaches it.
const PROBE = `import { appendFileSync, writeFileSync } from 'node:fs';
writeFileSync('../../seen.json', JSON.stringify(process.env));
appendFileSync('../../runs.log', 'ran\\n');
if (process.env.FAIL_TEST === '1') { console.error('FAIL_TEST is set: failing'); process.exit(3); }
console.log('tests passed');
`;

/** `passThrough: false` leaves the new keys out, so the same file also loads on older CLIs. */
const repo = (passThrough = true): Promise<string> =>
  gitdir({
    'velocity.yml': [
      ...remoteYmlHeader('${SEC_REMOTE_TOKEN}'),
      ...(passThrough ? ['pass_through_env: [SEC_GLOBAL_PT, SEC_PREFIX_*]'] : []),
      'pipeline:',
      '  test:',
      '    command: node probe.mjs',
      '    env: [SEC_SALT]',
      ...(passThrough ? ['    pass_through_env: [SEC_TASK_PT]'] : []),
      '  check:',
      '    command: node probe.mjs',
      '    env: [SEC_SALT, FAIL_TEST]',
      '',
    ].join('\n'),
    'package.json': '{ "name": "root", "private": true }\n',
    'packages/app/package.json': '{ "name": "app", "version": "1.0.0" }\n',
    'packages/app/probe.mjs': PROBE,
  });

interface Summary {
  tasks: Array<{ key: string; status: string }>;
}

const summaryOf = (r: CliResult): Summary => JSON.parse(r.stdout) as Summary;
const warnings = (r: CliResult): string[] => r.stderr.split('\n').filter((l) => l.startsWith('velocity: warning:'));
const seen = async (dir: string): Promise<Record<string, string>> => JSON.parse(await readFile(join(dir, 'seen.json'), 'utf8')) as Record<string, string>;
const keyOf = async (dir: string, task: string, env: Record<string, string>, extra: string[] = []): Promise<string> =>
  summaryOf(await runCli(['run', task, '--dry-run', '--json', ...extra], { cwd: dir, env })).tasks[0]!.key;

describe('tasks see only the environment their key covers', () => {
  let gw: TestGateway;
  let salt = 0;
  beforeAll(async () => {
    gw = await startGateway({ driver: process.env.VC_TEST_S3_ENDPOINT ? 's3' : 'local' });
  });
  afterAll(async () => {
    await gw.close();
  });
  const base = (): Record<string, string> => ({ SEC_REMOTE_URL: gw.url, SEC_REMOTE_TOKEN: gw.token, SEC_SALT: `${Date.now()}-${salt++}` });

  it('a cached result is replayed only where a real run gives the same result', async () => {
    const dir = await repo(false);
    const env = base();
    const first = await runCli(['run', 'test', '--json'], { cwd: dir, env });
    expect(first.code).toBe(0);
    expect(summaryOf(first).tasks[0]?.status).toBe('miss');

    // An undeclared variable does not change the key...
    const replay = await runCli(['run', 'test', '--json'], { cwd: dir, env: { ...env, FAIL_TEST: '1' } });
    expect(summaryOf(replay).tasks[0]?.status).toBe('hit-local');
    expect(replay.code).toBe(0);
    // ...so the task must not see it either: really running it gives what the cache replayed.
    const real = await runCli(['run', 'test', '--json', '--force'], { cwd: dir, env: { ...env, FAIL_TEST: '1' } });
    expect(real.code).toBe(replay.code);
    expect(await seen(dir)).not.toHaveProperty('FAIL_TEST');

    // Declared, it enters the key and the task sees it: a miss, and the failure is real.
    const declared = await runCli(['run', 'check', '--json'], { cwd: dir, env: { ...env, FAIL_TEST: '1' } });
    expect(summaryOf(declared).tasks[0]?.status).toBe('failed');
    expect(declared.code).toBe(3);
    expect((await seen(dir)).FAIL_TEST).toBe('1');
    expect(await keyOf(dir, 'check', env)).not.toBe(await keyOf(dir, 'check', { ...env, FAIL_TEST: '1' }));
  });

  it('passes the safe set and pass_through_env (global, per task, prefixes) without keying on them', async () => {
    const dir = await repo();
    const env: Record<string, string> = { ...base(), SEC_GLOBAL_PT: 'g', SEC_TASK_PT: 't', SEC_PREFIX_ONE: 'p', UNRELATED: 'u', LANG: 'C.UTF-8', TERM: 'dumb' };
    const run = await runCli(['run', 'test', '--json'], { cwd: dir, env });
    expect(run.code).toBe(0);
    const got = await seen(dir);
    expect(got).toMatchObject({ SEC_SALT: env.SEC_SALT, SEC_GLOBAL_PT: 'g', SEC_TASK_PT: 't', SEC_PREFIX_ONE: 'p', LANG: 'C.UTF-8', TERM: 'dumb', CI: '1' });
    expect(got.PATH).toContain(join(dir, 'packages/app/node_modules/.bin'));
    expect(got.HOME).toBe(process.env.HOME);
    expect(got).not.toHaveProperty('UNRELATED');
    // Pass-through values are not part of the key.
    expect(await keyOf(dir, 'test', { ...env, SEC_GLOBAL_PT: 'other', SEC_TASK_PT: 'other', SEC_PREFIX_ONE: 'other' })).toBe(await keyOf(dir, 'test', env));
  });

  it("never hands Velocity's own variables (VC_*, the remote token) to a task, in strict or loose mode", async () => {
    const dir = await repo(false);
    const env = { ...base(), VC_AUTH_TOKEN: 'gateway-secret', VC_JWT_SECRET: 'jwt-secret', UNRELATED: 'u' };
    const strict = await runCli(['run', 'test', '--json'], { cwd: dir, env });
    expect(strict.code).toBe(0);
    expect(warnings(strict)).toEqual([]);
    const visible = Object.keys(await seen(dir));
    expect(visible.filter((n) => n.startsWith('VC_') || n.startsWith('SEC_REMOTE') || n === 'UNRELATED')).toEqual([]);
    expect(JSON.stringify(await seen(dir))).not.toContain(gw.token);

    // Loose mode: the old behaviour (everything else passes), said once, in keys of its own.
    const loose = await runCli(['run', 'test', '--json', '--env-mode=loose'], { cwd: dir, env });
    expect(loose.code).toBe(0);
    expect(summaryOf(loose).tasks[0]?.status).toBe('miss');
    expect(warnings(loose)).toHaveLength(1);
    expect(warnings(loose)[0]).toContain('--env-mode=loose');
    const looseSeen = await seen(dir);
    expect(looseSeen.UNRELATED).toBe('u');
    expect(Object.keys(looseSeen).filter((n) => n.startsWith('VC_') || n.startsWith('SEC_REMOTE'))).toEqual([]);
    expect(JSON.stringify(looseSeen)).not.toContain(gw.token);
    expect(await keyOf(dir, 'test', env, ['--env-mode=loose'])).not.toBe(await keyOf(dir, 'test', env));
  });

  it('refuses an unknown --env-mode as bad usage', async () => {
    const dir = await repo();
    const r = await runCli(['run', 'test', '--env-mode=lax'], { cwd: dir, env: base() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--env-mode must be one of strict, loose');
  });
});
