import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gitdir, removeGitdirs, type TreeEntry } from '../../fixtures/cli/monorepo.js';
import { runCli } from './run-cli.js';

afterAll(removeGitdirs);

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** app -> lib (workspace) and ext (linked from outside the repository); other -> nothing. */
function files(lock: unknown = {
  name: 'root',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'root', workspaces: ['packages/*'] },
    'node_modules/app': { resolved: 'packages/app', link: true },
    'node_modules/lib': { resolved: 'packages/lib', link: true },
    'node_modules/other': { resolved: 'packages/other', link: true },
    'node_modules/ext': { resolved: '../ext', link: true },
    'node_modules/local': { resolved: 'libs/local', link: true },
    'libs/local': { name: 'local', version: '1.0.0' },
    'packages/app': { name: 'app', version: '1.0.0', dependencies: { lib: '*' } },
    'packages/lib': { name: 'lib', version: '1.0.0' },
    'packages/other': { name: 'other', version: '1.0.0', dependencies: { ext: 'file:../../../ext', local: 'file:../../libs/local' } },
  },
}): Record<string, TreeEntry> {
  return {
    'package.json': json({ name: 'root', private: true, workspaces: ['packages/*'] }),
    'package-lock.json': typeof lock === 'string' ? lock : json(lock),
    'velocity.yml': 'version: 1\npipeline:\n  build:\n    command: node -e 0\n',
    'packages/app/package.json': json({ name: 'app', version: '1.0.0', dependencies: { lib: '*' } }),
    'packages/lib/package.json': json({ name: 'lib', version: '1.0.0' }),
    'packages/other/package.json': json({ name: 'other', version: '1.0.0', dependencies: { ext: 'file:../../../ext', local: 'file:../../libs/local' } }),
    'libs/local/package.json': json({ name: 'local', version: '1.0.0' }),
    'libs/local/index.js': 'module.exports = 1;\n',
  };
}

async function refused(dir: string, args: string[], message: string | RegExp): Promise<void> {
  const r = await runCli(['prune', ...args], { cwd: dir });
  expect(r.code).toBe(2);
  if (typeof message === 'string') expect(r.stderr).toBe(`velocity: ${message}\n`);
  else expect(r.stderr).toMatch(message);
  // Refused before anything is written.
  expect(existsSync(join(dir, 'out'))).toBe(false);
}

describe('velocity prune refuses', () => {
  it('a name that is no package, naming each one', async () => {
    const dir = await gitdir(files());
    await refused(dir, ['app', 'nope', '@x/y'], "no package found with name 'nope' in workspace; no package found with name '@x/y' in workspace (velocity ls lists them)");
  });

  it('an output folder that is not new or empty, or that holds the repository', async () => {
    const dir = await gitdir(files());
    await mkdir(join(dir, 'dist'));
    await writeFile(join(dir, 'dist/keep.txt'), 'mine');
    await refused(dir, ['app', '--out-dir', 'dist'], `${join(dir, 'dist')} already exists and is not empty: remove it or choose another --out-dir`);
    expect(readFileSync(join(dir, 'dist/keep.txt'), 'utf8')).toBe('mine');
    await refused(dir, ['app', '--out-dir=.'], `--out-dir ${dir} is the repository root or holds it: choose a new folder`);
    await refused(dir, ['app', '--out-dir=..'], /is the repository root or holds it/);
    // An empty folder is fine.
    await mkdir(join(dir, 'empty'));
    expect((await runCli(['prune', 'app', '--out-dir=empty'], { cwd: dir })).code).toBe(0);
    expect(existsSync(join(dir, 'empty/packages/app/package.json'))).toBe(true);
  });

  it('a lockfile link the kept packages need that leaves the repository; one only dropped packages need is no concern', async () => {
    const dir = await gitdir(files());
    await refused(dir, ['other'], 'package-lock.json: "node_modules/ext" links to ../ext, outside the repository: velocity prune copies only what is inside it');
    const r = await runCli(['prune', 'app'], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([0, expect.stringContaining(' - package-lock.json: kept 5 of 10 entries\n')]);
  });

  it('symlinks that leave the repository, absolute or relative, naming them', async () => {
    const dir = await gitdir(files());
    await symlink('/etc/hostname', join(dir, 'packages/lib/host'));
    await refused(dir, ['app'], 'packages/lib/host is a symlink to /etc/hostname, outside the repository: velocity prune copies only what is inside it (make the link relative and inside the repository, or list it in .gitignore)');
    await writeFile(join(dir, '.gitignore'), 'host\n');
    const ignored = await runCli(['prune', 'app', '--out-dir=out-ignored'], { cwd: dir });
    expect(ignored.code).toBe(0);
    expect(existsSync(join(dir, 'out-ignored/packages/lib/host'))).toBe(false);
    await symlink('../../..', join(dir, 'packages/app/up'));
    await refused(dir, ['app'], /^velocity: packages\/app\/up is a symlink to \.\.\/\.\.\/\.\., outside the repository/);
  });

  it('a package folder that is a symlink to a folder outside the repository', async () => {
    const outside = await gitdir({ 'package.json': json({ name: 'far', version: '1.0.0' }) });
    const dir = await gitdir(files());
    await symlink(outside, join(dir, 'packages/far'));
    await refused(dir, ['far'], /^velocity: packages\/far is outside the repository \(it leads to .*\): velocity prune copies only what is inside it\n$/);
  });

  it('another package manager\'s lockfile, an npm 6 lockfile and a lockfile without a kept workspace', async () => {
    const { 'package-lock.json': _, ...noNpm } = files();
    const onlyPnpm = await gitdir({ ...noNpm, 'pnpm-lock.yaml': 'lockfileVersion: 9.0\n' });
    await refused(onlyPnpm, ['app'], "velocity prune rewrites npm lockfiles (package-lock.json, npm-shrinkwrap.json) only; this repository has pnpm-lock.yaml");
    const v1 = await gitdir(files({ lockfileVersion: 1, dependencies: {} }));
    await refused(v1, ['app'], 'package-lock.json: lockfileVersion 1 has no "packages" section (npm 6): run npm install with npm 7 or later to upgrade it');
    const stale = await gitdir(files({ lockfileVersion: 3, packages: { '': {}, 'packages/lib': {} } }));
    await refused(stale, ['app'], 'package-lock.json has no entry for the workspace package in packages/app: run npm install to bring it up to date');
    const broken = await gitdir(files('{"lockfileVersion": 3,'));
    await refused(broken, ['app'], /^velocity: package-lock.json: not valid JSON: /);
  });
});

describe('velocity prune copies', () => {
  it('a local package the lockfile links to (file: dependency inside the repository) beside the workspace packages', async () => {
    const lock = {
      lockfileVersion: 3,
      packages: {
        '': { name: 'root', workspaces: ['packages/*'] },
        'node_modules/app': { resolved: 'packages/app', link: true },
        'node_modules/lib': { resolved: 'packages/lib', link: true },
        'node_modules/local': { resolved: 'libs/local', link: true },
        'libs/local': { name: 'local', version: '1.0.0' },
        'packages/app': { name: 'app', version: '1.0.0', dependencies: { lib: '*', local: 'file:../../libs/local' } },
        'packages/lib': { name: 'lib', version: '1.0.0' },
      },
    };
    const dir = await gitdir(files(lock));
    const r = await runCli(['prune', 'app'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(' - Added libs/local (a local package the lockfile links to)\n');
    expect(readFileSync(join(dir, 'out/libs/local/index.js'), 'utf8')).toBe('module.exports = 1;\n');
    expect(existsSync(join(dir, 'out/packages/lib/package.json'))).toBe(true);
    expect(existsSync(join(dir, 'out/packages/other'))).toBe(false);
  });

  it('a kept package nested in another once, and leaves out a nested package that is not kept', async () => {
    const dir = await gitdir({
      'package.json': json({ name: 'root', private: true, workspaces: ['packages/*', 'packages/app/*'] }),
      'velocity.yml': 'version: 1\npipeline:\n  build:\n    command: node -e 0\n',
      'packages/app/package.json': json({ name: 'app', version: '1.0.0', dependencies: { plugin: '*' } }),
      'packages/app/index.js': 'app\n',
      'packages/app/plugin/package.json': json({ name: 'plugin', version: '1.0.0' }),
      'packages/app/plugin/index.js': 'plugin\n',
      'packages/app/legacy/package.json': json({ name: 'legacy', version: '1.0.0' }),
      'packages/app/legacy/index.js': 'legacy\n',
    });
    await symlink('index.js', join(dir, 'packages/app/plugin/main.js'));
    const r = await runCli(['prune', 'app'], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([0, expect.stringContaining(' - Added app (packages/app)\n - Added plugin (packages/app/plugin)\n')]);
    expect(await readlink(join(dir, 'out/packages/app/plugin/main.js'))).toBe('index.js');
    expect(existsSync(join(dir, 'out/packages/app/index.js'))).toBe(true);
    expect(existsSync(join(dir, 'out/packages/app/legacy'))).toBe(false);
  });

  it('without a lockfile: everything else, with a warning', async () => {
    const { 'package-lock.json': _, ...noLock } = files();
    const dir = await gitdir(noLock);
    await symlink('../lib/package.json', join(dir, 'packages/app/lib-manifest.json'));
    const r = await runCli(['prune', 'app'], { cwd: join(dir, 'packages/app') });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('velocity: warning: no package-lock.json at the repository root: the pruned copy has no lockfile\n');
    expect(existsSync(join(dir, 'out/packages/lib/package.json'))).toBe(true);
    expect(existsSync(join(dir, 'out/package-lock.json'))).toBe(false);
    expect(await readlink(join(dir, 'out/packages/app/lib-manifest.json'))).toBe('../lib/package.json');
  });
});
