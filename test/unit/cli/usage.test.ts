import { afterAll, describe, expect, it } from '@jest/globals';
import { gitdir, removeGitdirs } from '../../fixtures/cli/monorepo.js';
import { runCli } from '../../integration/cli/run-cli.js';

afterAll(removeGitdirs);

describe('usage', () => {
  it('bare velocity prints help on stderr and exits 2; `help` is asked for and exits 0', async () => {
    const dir = await gitdir({ 'package.json': '{}' });
    const bare = await runCli([], { cwd: dir });
    expect([bare.code, bare.stdout]).toEqual([2, '']);
    expect(bare.stderr).toMatch(/^Usage: velocity /);
    const help = await runCli(['help'], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: velocity /);
  });

  it('lists the run options and ls in help', async () => {
    const dir = await gitdir({ 'package.json': '{}' });
    const run = await runCli(['run', '--help'], { cwd: dir });
    for (const flag of ['--filter <selector>', '--affected', '--continue', '--output-logs <mode>', '--log-order <order>', '--summarize', '--graph [file]']) {
      expect(run.stdout).toContain(flag);
    }
    expect((await runCli(['--help'], { cwd: dir })).stdout).toMatch(/\n {2}ls \[options\] +list the workspace packages/);
  });
});
