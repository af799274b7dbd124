import { afterAll, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gitdir, monorepoFiles, removeGitdirs } from '../../fixtures/cli/monorepo.js';
import { runCli } from '../../integration/cli/run-cli.js';

afterAll(removeGitdirs);

describe('the CLI error boundary', () => {
  it('prints every problem of a bad velocity.yml with its path, exit code 2, no stack trace', async () => {
    const dir = await gitdir({ ...monorepoFiles('npm'), 'velocity.yml': 'version: 3\npipeline:\n  build:\n    outputs: 12\n' });
    const r = await runCli(['run', 'build'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('velocity.yml is invalid:');
    expect(r.stderr).toContain('  - version: must be 1');
    expect(r.stderr).toContain('  - pipeline.build.command: is required');
    expect(r.stderr).toMatch(/ {2}- pipeline\.build\.outputs: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('names an unknown task and a cycle', async () => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    const unknown = await runCli(['run', 'biuld'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('velocity: unknown task "biuld" (velocity.yml defines: build)\n');
    await writeFile(join(dir, 'packages/a/package.json'), JSON.stringify({ name: '@fx/a', dependencies: { '@fx/c': '*' } }));
    const cycle = await runCli(['run', 'build'], { cwd: dir });
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toContain('task dependency cycle: @fx/a#build -> @fx/c#build -> @fx/b#build -> @fx/a#build');
  });

  it('explains a missing velocity.yml and bad flags', async () => {
    const dir = await gitdir({ 'package.json': '{}' });
    const r = await runCli(['run', 'build'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^velocity: no velocity\.yml found in .* or any parent directory/);
    expect((await runCli(['run', 'build', '--concurrency', 'zero'], { cwd: dir })).stderr).toContain('--concurrency must be a positive integer');
    expect((await runCli(['run'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['frobnicate'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['--help'], { cwd: dir })).code).toBe(0);
  });

  it('prints help and its version on stdout', async () => {
    const dir = await gitdir({ 'package.json': '{}' });
    const help = await runCli(['--help'], { cwd: dir });
    expect(help.stdout).toMatch(/^Usage: velocity /);
    expect(help.stdout).toContain('VELOCITY_CACHE_DIR');
    const { version } = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    const v = await runCli(['--version'], { cwd: dir });
    expect([v.code, v.stdout.trim()]).toEqual([0, version]);
  });

  it('shows the stack trace only with --verbose', async () => {
    const dir = await gitdir({ ...monorepoFiles('npm'), 'packages/a/package.json': '{ not json' });
    const quiet = await runCli(['run', 'build'], { cwd: dir });
    expect(quiet.code).toBe(2);
    expect(quiet.stderr).toMatch(/packages\/a\/package\.json is invalid:\n {2}- not valid JSON/);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    const verbose = await runCli(['run', 'build', '--verbose'], { cwd: dir });
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });
});
