import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitdir, monorepoFiles, removeGitdirs } from '../../fixtures/cli/monorepo.js';
import { commitAll, ensureBuiltCli, git, spawnCli } from './spawn-cli.js';

// The fixture: @fx/a <- @fx/b <- @fx/c (c through devDependencies), @fx/d alone; packages/<x>.
const ALL = ['@fx/a', '@fx/b', '@fx/c', '@fx/d'];

const listed = (stdout: string): string[] => (JSON.parse(stdout) as { packages: { items: Array<{ name: string }> } }).packages.items.map((i) => i.name);

async function ls(dir: string, args: string[], env: Record<string, string | undefined> = {}): Promise<{ names: string[]; stderr: string }> {
  const r = await spawnCli(['ls', '--output=json', ...args], dir, env);
  if (r.code !== 0) throw new Error(`velocity ls ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return { names: listed(r.stdout), stderr: r.stderr };
}
const names = async (dir: string, ...args: string[]): Promise<string[]> => (await ls(dir, args)).names;

/** main: the fixture; feat (checked out): a change in packages/a; main then moves on (a change in d). */
async function branchedRepo(): Promise<string> {
  const dir = await gitdir(monorepoFiles('npm', { remote: false }), 'velocity-git-');
  git(dir, 'init', '-q', '-b', 'main');
  commitAll(dir, 'fixture');
  git(dir, 'checkout', '-q', '-b', 'feat');
  await writeFile(join(dir, 'packages/a/src/index.js'), 'export const a = 10;\n');
  commitAll(dir, 'change a');
  git(dir, 'checkout', '-q', 'main');
  await writeFile(join(dir, 'packages/d/src/index.js'), 'export const d = 40;\n');
  commitAll(dir, 'change d on main');
  git(dir, 'checkout', '-q', 'feat');
  return dir;
}

beforeAll(() => ensureBuiltCli(), 180_000);
afterAll(removeGitdirs);

describe('velocity ls and --filter through the built binary', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await branchedRepo();
  });

  it('lists packages with their folders, pretty and as JSON', async () => {
    const pretty = await spawnCli(['ls'], dir);
    expect(pretty).toMatchObject({ code: 0, stderr: '' });
    expect(pretty.stdout).toBe('4 packages\n\n  @fx/a  packages/a\n  @fx/b  packages/b\n  @fx/c  packages/c\n  @fx/d  packages/d\n');
    const json = JSON.parse((await spawnCli(['ls', '--output', 'json', '--filter', '@fx/b'], dir)).stdout) as unknown;
    expect(json).toEqual({ packages: { count: 1, items: [{ name: '@fx/b', path: 'packages/b', dependencies: ['@fx/a'] }] } });
    const bad = await spawnCli(['ls', '--output=yaml'], dir);
    expect([bad.code, bad.stderr]).toEqual([2, 'velocity: --output must be one of pretty, json, got "yaml"\n']);
  });

  it.each<[string[], string[]]>([
    [['@fx/b'], ['@fx/b']],
    [['@fx/*'], ALL],
    [['*c'], ['@fx/c']],
    [['./packages/d'], ['@fx/d']],
    [['./packages/*'], ALL],
    [['{packages/a}'], ['@fx/a']],
    [['@fx/b...'], ['@fx/a', '@fx/b']],
    [['...@fx/b'], ['@fx/b', '@fx/c']],
    [['@fx/c^...'], ['@fx/a', '@fx/b']],
    [['...^@fx/a'], ['@fx/b', '@fx/c']],
    [['...{./packages/b}'], ['@fx/b', '@fx/c']],
    [['!@fx/d'], ['@fx/a', '@fx/b', '@fx/c']],
    [['@fx/c...', '!@fx/a'], ['@fx/b', '@fx/c']],
    [['@fx/a', '-F', '@fx/d'], ['@fx/a', '@fx/d']],
    [['[HEAD^1]'], ['@fx/a']],
    [['...[HEAD^1]'], ['@fx/a', '@fx/b', '@fx/c']],
    [['...^[HEAD^1]'], ['@fx/b', '@fx/c']],
    [['[HEAD^1]...'], ['@fx/a']],
    // Three dots: from the merge base, so d's change on main after the branch point does not count.
    [['[main...feat]'], ['@fx/a']],
    [['[main]'], ['@fx/a']],
    [['[HEAD]'], []],
    [['@fx/c...[HEAD^1]'], ['@fx/c']],
    [['@fx/d...[HEAD^1]'], []],
    [['...[HEAD^1]', '!@fx/c'], ['@fx/a', '@fx/b']],
  ])('--filter %j', async (args, expected) => {
    const filterArgs = args.flatMap((a, i) => (a === '-F' || args[i - 1] === '-F' ? [a] : ['--filter', a]));
    expect(await names(dir, ...filterArgs)).toEqual(expected);
  });

  it('names what matches nothing: an error for a name or folder, a warning for a glob', async () => {
    const unknown = await spawnCli(['ls', '--filter', '...nope'], dir);
    expect([unknown.code, unknown.stdout, unknown.stderr]).toEqual([2, '', `velocity: --filter "...nope": no package found with name 'nope' in workspace\n`]);
    const folder = await spawnCli(['run', 'build', '--filter', './packages/zz'], dir);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(`--filter "./packages/zz": directory '${join(dir, 'packages/zz')}' does not exist`);
    const glob = await ls(dir, ['--filter', '@other/*']);
    expect(glob).toEqual({ names: [], stderr: 'velocity: warning: --filter "@other/*": no package matches\n' });
    const ref = await spawnCli(['ls', '--filter', '[no-such-branch]'], dir);
    expect(ref.code).toBe(2);
    expect(ref.stderr).toContain('git does not know the revision "no-such-branch"');
    const option = await spawnCli(['ls', '--filter', '[--output=x]'], dir);
    expect([option.code, option.stderr]).toEqual([2, 'velocity: --filter "[--output=x]": "--output=x" is not a git revision\n']);
  });

  it('counts uncommitted and untracked files in [ref] but not in [from...to], and never ignored ones', async () => {
    const work = await branchedRepo();
    await writeFile(join(work, 'packages/d/src/index.js'), 'export const d = 41;\n');
    await writeFile(join(work, 'packages/b/src/new.js'), 'untracked\n');
    await writeFile(join(work, 'packages/c/src/ignored.tmp'), 'ignored by .gitignore\n');
    expect(await names(work, '--filter', '[HEAD]')).toEqual(['@fx/b', '@fx/d']);
    expect(await names(work, '--filter', '[main]')).toEqual(['@fx/a', '@fx/b', '@fx/d']);
    expect(await names(work, '--filter', '[main...HEAD]')).toEqual(['@fx/a']);
    // A change to velocity.yml (every task's command) or a root lockfile changes every package.
    await writeFile(join(work, 'package-lock.json'), '{"lockfileVersion":3,"changed":true}\n');
    expect(await names(work, '--filter', '[HEAD]')).toEqual(ALL);
  });

  it('runs the tasks of the selected packages and what they depend on', async () => {
    const r = await spawnCli(['run', 'build', '--filter', '...[HEAD^1]', '--filter', '!@fx/a', '--json'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Packages in scope: @fx/b, @fx/c\n');
    expect((JSON.parse(r.stdout) as { tasks: Array<{ id: string }> }).tasks.map((t) => t.id)).toEqual(['@fx/a#build', '@fx/b#build', '@fx/c#build']);
    const none = await spawnCli(['run', 'build', '--filter', '[HEAD]', '--json'], dir);
    expect(none.code).toBe(0);
    expect(none.stderr).toContain('Packages in scope: none, nothing to run');
    expect((JSON.parse(none.stdout) as { counts: { tasks: number } }).counts.tasks).toBe(0);
  });
});

describe('--affected on a git repository with a branch', () => {
  it('selects what changed since the merge base with main, with dependents, uncommitted and untracked files included', async () => {
    const dir = await branchedRepo();
    expect(await ls(dir, ['--affected'])).toEqual({ names: ['@fx/a', '@fx/b', '@fx/c'], stderr: '' });
    await writeFile(join(dir, 'packages/d/notes.txt'), 'untracked\n');
    expect(await names(dir, '--affected')).toEqual(ALL);
    await rm(join(dir, 'packages/d/notes.txt'));
    git(dir, 'checkout', '-q', 'main');
    // On main itself, clean: nothing is affected.
    expect(await ls(dir, ['--affected'])).toEqual({ names: [], stderr: '' });
    await writeFile(join(dir, 'packages/c/src/index.js'), 'export const c = 30;\n');
    expect(await names(dir, '--affected')).toEqual(['@fx/c']);
  });

  it('narrows --filter (both must select a package)', async () => {
    const dir = await branchedRepo();
    expect(await names(dir, '--affected', '--filter', '@fx/c')).toEqual(['@fx/c']);
    expect(await names(dir, '--affected', '--filter', '@fx/d')).toEqual([]);
    expect(await names(dir, '--affected', '--filter', '!@fx/b')).toEqual(['@fx/a', '@fx/c']);
  });

  it('takes VELOCITY_SCM_BASE and VELOCITY_SCM_HEAD', async () => {
    const dir = await branchedRepo();
    await writeFile(join(dir, 'packages/d/src/index.js'), 'export const d = 41;\n');
    // Base only: up to the working tree.
    expect((await ls(dir, ['--affected'], { VELOCITY_SCM_BASE: 'HEAD' })).names).toEqual(['@fx/d']);
    // Base and head: exactly that range, the working tree left out.
    expect((await ls(dir, ['--affected'], { VELOCITY_SCM_BASE: 'main', VELOCITY_SCM_HEAD: 'feat' })).names).toEqual(['@fx/a', '@fx/b', '@fx/c']);
    expect((await ls(dir, ['--affected'], { VELOCITY_SCM_BASE: 'feat', VELOCITY_SCM_HEAD: 'main' })).names).toEqual(['@fx/d']);
    const bad = await spawnCli(['ls', '--affected'], dir, { VELOCITY_SCM_BASE: '--exec=x' });
    expect([bad.code, bad.stderr]).toEqual([2, 'velocity: VELOCITY_SCM_BASE: "--exec=x" is not a git revision\n']);
    const unknown = await ls(dir, ['--affected'], { VELOCITY_SCM_BASE: 'gone' });
    expect(unknown.names).toEqual(ALL);
    expect(unknown.stderr).toMatch(/^velocity: warning: --affected: git does not know the revision "gone".*; running every package\n$/);
  });

  it("finds the default branch through origin/HEAD in a clone without a local main", async () => {
    const origin = await branchedRepo();
    git(origin, 'checkout', '-q', 'main');
    const clone = await mkdtemp(join(tmpdir(), 'velocity-clone-'));
    try {
      git(tmpdir(), 'clone', '-q', origin, clone);
      git(clone, 'checkout', '-q', '-b', 'feat', 'origin/feat');
      git(clone, 'branch', '-q', '-D', 'main');
      expect(git(clone, 'symbolic-ref', 'refs/remotes/origin/HEAD').trim()).toBe('refs/remotes/origin/main');
      expect(await ls(clone, ['--affected'])).toEqual({ names: ['@fx/a', '@fx/b', '@fx/c'], stderr: '' });
    } finally {
      await rm(clone, { recursive: true, force: true });
    }
  });

  it('warns and runs everything without a base branch or outside a git repository', async () => {
    const trunk = await branchedRepo();
    git(trunk, 'branch', '-q', '-m', 'main', 'trunk');
    expect(await ls(trunk, ['--affected'])).toEqual({
      names: ALL,
      stderr: 'velocity: warning: --affected: no default branch found (origin/HEAD, main, master); set VELOCITY_SCM_BASE; running every package\n',
    });
    const plain = await gitdir(monorepoFiles('npm', { remote: false }));
    expect(await ls(plain, ['--affected'])).toEqual({ names: ALL, stderr: `velocity: warning: --affected: ${plain} is not in a git repository; running every package\n` });
    const range = await spawnCli(['ls', '--filter', '[HEAD]'], plain);
    expect([range.code, range.stderr]).toEqual([2, `velocity: ${plain} is not in a git repository\n`]);
  });

  it('runs only the affected tasks (and the tasks they depend on)', async () => {
    const dir = await branchedRepo();
    await writeFile(join(dir, 'packages/c/src/index.js'), 'export const c = 30;\n');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'change c');
    const r = await spawnCli(['run', 'build', '--affected', '--json'], dir);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { tasks: Array<{ id: string }> }).tasks.map((t) => t.id)).toEqual(['@fx/a#build', '@fx/b#build', '@fx/c#build']);
    git(dir, 'checkout', '-q', 'main');
    const onMain = await spawnCli(['run', 'build', '--affected', '--json'], dir);
    expect((JSON.parse(onMain.stdout) as { counts: { tasks: number } }).counts.tasks).toBe(0);
  });
});
