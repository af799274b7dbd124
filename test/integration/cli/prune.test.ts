import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { cp, lstat, readFile, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gitdir, removeGitdirs, type TreeEntry } from '../../fixtures/cli/monorepo.js';
import { ensureBuiltCli, spawnCli } from './spawn-cli.js';

// A workspace of five packages on real npm packages, installed OFFLINE from the npm cache: the
// fixture's lockfile is written from entries of this repository's own package-lock.json (same
// versions and integrity), whose tarballs `npm ci` of this repository put in the cache.
//
//   apps/web   -> @fx/ui, debug 4.4.3 (-> ms)
//   apps/docs  -> @fx/utils, strip-ansi 6.0.1 (-> ansi-regex 5), picomatch 2.3.2
//   packages/ui    -> @fx/utils, strip-ansi 7.2.0 (-> ansi-regex 6, nested under it), picomatch 4.0.7 (nested in packages/ui)
//   packages/utils -> ms 2.1.3 (devDependencies)
//   packages/extra -> supports-color 7.2.0 (-> has-flag)
//   root           -> has-flag 4.0.0 (devDependencies)
//
// Pruning web keeps web, ui, utils and the root; the nested entries under node_modules/strip-ansi
// and packages/ui; and drops docs, extra and what only they need.

const REPO = resolve(import.meta.dirname, '../../..');
const repoLock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };

/** The entry of name@version in this repository's lockfile, without its flags (they are the repository's). */
function registryEntry(name: string, version: string): Record<string, unknown> {
  const found = Object.entries(repoLock.packages).find(([key, e]) => key.endsWith(`node_modules/${name}`) && e.version === version);
  if (!found) throw new Error(`${name}@${version} is not in this repository's package-lock.json: the fixture needs another package`);
  const { dev: _d, optional: _o, devOptional: _do, peer: _p, ...entry } = found[1];
  return entry;
}

const workspace = (version: string, deps: Record<string, Record<string, string>>): Record<string, unknown> => ({ version, ...deps });
const link = (resolved: string): Record<string, unknown> => ({ resolved, link: true });

function fixtureLock(): Record<string, unknown> {
  return {
    name: 'fx-root',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'fx-root', workspaces: ['apps/*', 'packages/*'], devDependencies: { 'has-flag': '4.0.0' } },
      'apps/docs': workspace('1.0.0', { dependencies: { '@fx/utils': '*', picomatch: '2.3.2', 'strip-ansi': '6.0.1' } }),
      'apps/docs/node_modules/strip-ansi': registryEntry('strip-ansi', '6.0.1'),
      'apps/web': workspace('1.0.0', { dependencies: { '@fx/ui': '*', debug: '4.4.3' } }),
      'node_modules/@fx/extra': link('packages/extra'),
      'node_modules/@fx/ui': link('packages/ui'),
      'node_modules/@fx/utils': link('packages/utils'),
      'node_modules/ansi-regex': registryEntry('ansi-regex', '5.0.1'),
      'node_modules/debug': registryEntry('debug', '4.4.3'),
      'node_modules/docs': link('apps/docs'),
      'node_modules/has-flag': registryEntry('has-flag', '4.0.0'),
      'node_modules/ms': registryEntry('ms', '2.1.3'),
      'node_modules/picomatch': registryEntry('picomatch', '2.3.2'),
      'node_modules/strip-ansi': registryEntry('strip-ansi', '7.2.0'),
      'node_modules/strip-ansi/node_modules/ansi-regex': registryEntry('ansi-regex', '6.6.0'),
      'node_modules/supports-color': registryEntry('supports-color', '7.2.0'),
      'node_modules/web': link('apps/web'),
      'packages/extra': { name: '@fx/extra', ...workspace('1.0.0', { dependencies: { 'supports-color': '7.2.0' } }) },
      'packages/ui': { name: '@fx/ui', ...workspace('1.0.0', { dependencies: { '@fx/utils': '*', picomatch: '4.0.7', 'strip-ansi': '7.2.0' } }) },
      'packages/ui/node_modules/picomatch': registryEntry('picomatch', '4.0.7'),
      'packages/utils': { name: '@fx/utils', ...workspace('1.0.0', { devDependencies: { ms: '2.1.3' } }) },
    },
  };
}

const manifest = (value: Record<string, unknown>): string => `${JSON.stringify(value, null, 2)}\n`;

function fixtureFiles(): Record<string, TreeEntry> {
  return {
    'package.json': manifest({ name: 'fx-root', private: true, workspaces: ['apps/*', 'packages/*'], devDependencies: { 'has-flag': '4.0.0' } }),
    'package-lock.json': manifest(fixtureLock()),
    'velocity.yml': 'version: 1\npipeline:\n  build:\n    command: node -e 0\n',
    '.gitignore': 'node_modules\n/out*\n',
    'README.md': 'not copied: outside every package\n',
    'apps/web/package.json': manifest({ name: 'web', version: '1.0.0', dependencies: { '@fx/ui': '*', debug: '4.4.3' } }),
    // Runs in the pruned copy: debug needs ms, @fx/ui needs strip-ansi 7 (and its ansi-regex 6), picomatch 4 and @fx/utils.
    'apps/web/main.mjs': [
      "import debug from 'debug';",
      "import { shout } from '@fx/ui';",
      "console.log(shout('\\u001b[31mweb\\u001b[39m'), typeof debug('web'));",
      '',
    ].join('\n'),
    'apps/docs/package.json': manifest({ name: 'docs', version: '1.0.0', dependencies: { '@fx/utils': '*', picomatch: '2.3.2', 'strip-ansi': '6.0.1' } }),
    'apps/docs/index.md': 'docs\n',
    'packages/ui/package.json': manifest({ name: '@fx/ui', version: '1.0.0', type: 'module', exports: './index.js', dependencies: { '@fx/utils': '*', picomatch: '4.0.7', 'strip-ansi': '7.2.0' } }),
    'packages/ui/index.js': [
      "import stripAnsi from 'strip-ansi';",
      "import picomatch from 'picomatch';",
      "import { upper } from '@fx/utils';",
      "export const shout = (s) => upper(stripAnsi(s)) + (picomatch('*.js')('a.js') ? '!' : '?');",
      '',
    ].join('\n'),
    'packages/ui/.gitignore': 'dist/\n',
    'packages/ui/dist/bundle.js': 'ignored by packages/ui/.gitignore\n',
    'packages/ui/bin/run.sh': { content: '#!/bin/sh\necho ui\n', mode: 0o755 },
    'packages/utils/package.json': manifest({ name: '@fx/utils', version: '1.0.0', type: 'module', exports: './index.js', devDependencies: { ms: '2.1.3' } }),
    'packages/utils/index.js': 'export const upper = (s) => s.toUpperCase();\n',
    'packages/extra/package.json': manifest({ name: '@fx/extra', version: '1.0.0', dependencies: { 'supports-color': '7.2.0' } }),
    'packages/extra/index.js': 'export {};\n',
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command with the test's environment minus npm's own npm_* variables (an `npm test` run sets them for this repository). */
function exec(file: string, args: string[], cwd: string): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  Object.assign(env, { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', NO_COLOR: '1' });
  return new Promise((done) => {
    execFile(file, args, { cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** `npm ci` without the network: everything must come from the cache. */
async function npmCiOffline(cwd: string): Promise<void> {
  const r = await exec('npm', ['ci', '--offline', '--ignore-scripts'], cwd);
  if (r.code !== 0) throw new Error(`npm ci --offline in ${cwd} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
}

/** What npm installed: the keys of its hidden lockfile, node_modules/.package-lock.json. */
async function installed(cwd: string): Promise<string[]> {
  const hidden = JSON.parse(await readFile(join(cwd, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return Object.keys(hidden.packages).sort();
}

/** Every path under `dir` (files and symlinks, POSIX, sorted), node_modules left out. */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name).slice(dir.length + 1);
    if (path.split('/').includes('node_modules') || entry.isDirectory()) continue;
    out.push(path);
  }
  return out.sort();
}

const lockOf = async (dir: string): Promise<{ packages: Record<string, unknown> } & Record<string, unknown>> =>
  JSON.parse(await readFile(join(dir, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> } & Record<string, unknown>;

const DROPPED = [
  'apps/docs',
  'apps/docs/node_modules/strip-ansi',
  'node_modules/@fx/extra',
  'node_modules/ansi-regex',
  'node_modules/docs',
  'node_modules/picomatch',
  'node_modules/supports-color',
  'packages/extra',
];

const COPIED = [
  '.gitignore',
  'apps/web/main.mjs',
  'apps/web/package.json',
  'package-lock.json',
  'package.json',
  'packages/ui/.gitignore',
  'packages/ui/bin/run.sh',
  'packages/ui/index.js',
  'packages/ui/package.json',
  'packages/utils/index.js',
  'packages/utils/package.json',
  'velocity.yml',
];

beforeAll(() => ensureBuiltCli(), 180_000);
afterAll(removeGitdirs);

describe('velocity prune on an npm workspace', () => {
  let repo: string;
  let fullLock: Awaited<ReturnType<typeof lockOf>>;

  beforeAll(async () => {
    repo = await gitdir(fixtureFiles(), 'velocity-prune-');
    // The fixture is sound: its lockfile installs as it is, offline, before anything is pruned.
    await npmCiOffline(repo);
    fullLock = await lockOf(repo);
  }, 180_000);

  it('copies the package, its workspace dependencies and a lockfile that differs only by what they do not need; npm ci installs it', async () => {
    const r = await spawnCli(['prune', 'web'], repo);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toContain(' - Added @fx/ui (packages/ui)\n - Added @fx/utils (packages/utils)\n');
    expect(r.stderr).toContain(' - package-lock.json: kept 13 of 21 entries\n');
    const out = join(repo, 'out');
    expect(await listTree(out)).toEqual(COPIED);
    expect((await lstat(join(out, 'packages/ui/bin/run.sh'))).mode & 0o777).toBe(0o755);

    const pruned = await lockOf(out);
    const { packages: fullPackages, ...fullTop } = fullLock;
    const { packages: prunedPackages, ...prunedTop } = pruned;
    expect(prunedTop).toEqual(fullTop);
    expect(Object.keys(fullPackages).filter((k) => !(k in prunedPackages)).sort()).toEqual(DROPPED);
    expect(Object.keys(prunedPackages).every((k) => k in fullPackages)).toBe(true);
    for (const [key, entry] of Object.entries(prunedPackages)) expect([key, entry]).toEqual([key, fullPackages[key]]);
    // Entries keep the original's order and layout: the text is the original's minus whole entries.
    expect(Object.keys(prunedPackages)).toEqual(Object.keys(fullPackages).filter((k) => !DROPPED.includes(k)));

    await npmCiOffline(out);
    // npm installs exactly what each lockfile lists (the root aside): the full one every entry, the pruned one all but the dropped.
    expect(await installed(repo)).toEqual(Object.keys(fullPackages).filter((k) => k !== '').sort());
    expect(await installed(out)).toEqual(Object.keys(prunedPackages).filter((k) => k !== '').sort());
    expect(existsSync(join(out, 'node_modules/picomatch'))).toBe(false);
    const run = await exec(process.execPath, ['apps/web/main.mjs'], out);
    expect([run.code, run.stdout]).toEqual([0, 'WEB! function\n']);
  }, 180_000);

  it('--docker: json/ holds the manifests and the lockfile npm ci installs from, full/ everything', async () => {
    const r = await spawnCli(['prune', 'web', '--docker', '--out-dir=out-docker'], join(repo, 'packages/ui'));
    expect(r.code).toBe(0);
    const out = join(repo, 'out-docker');
    expect(await listTree(join(out, 'json'))).toEqual(['apps/web/package.json', 'package-lock.json', 'package.json', 'packages/ui/package.json', 'packages/utils/package.json']);
    expect(await listTree(join(out, 'full'))).toEqual(COPIED);
    const prunedText = await readFile(join(out, 'package-lock.json'), 'utf8');
    for (const copy of ['json', 'full']) expect(await readFile(join(out, copy, 'package-lock.json'), 'utf8')).toBe(prunedText);
    const pruned = JSON.parse(prunedText) as { packages: Record<string, unknown> };
    expect(Object.keys(fullLock.packages).filter((k) => !(k in pruned.packages)).sort()).toEqual(DROPPED);

    // As a Dockerfile does: install from json/, then copy full/ over it and run.
    const image = await gitdir({}, 'velocity-prune-image-');
    await cp(join(out, 'json'), image, { recursive: true });
    await npmCiOffline(image);
    await cp(join(out, 'full'), image, { recursive: true, verbatimSymlinks: true });
    const run = await exec(process.execPath, ['apps/web/main.mjs'], image);
    expect([run.code, run.stdout]).toEqual([0, 'WEB! function\n']);
  }, 180_000);

  it('keeps several packages at once, with symlinks inside the repository as symlinks', async () => {
    await symlink('../../packages/utils/index.js', join(repo, 'apps/docs/utils.js'));
    try {
      const r = await spawnCli(['prune', 'docs', '@fx/extra', '--out-dir', 'out-two'], repo);
      expect(r.code).toBe(0);
      const out = join(repo, 'out-two');
      expect(await readlink(join(out, 'apps/docs/utils.js'))).toBe('../../packages/utils/index.js');
      const pruned = await lockOf(out);
      expect(Object.keys(pruned.packages).sort()).toEqual([
        '',
        'apps/docs',
        'apps/docs/node_modules/strip-ansi',
        'node_modules/@fx/extra',
        'node_modules/@fx/utils',
        'node_modules/ansi-regex',
        'node_modules/docs',
        'node_modules/has-flag',
        'node_modules/ms',
        'node_modules/picomatch',
        'node_modules/supports-color',
        'packages/extra',
        'packages/utils',
      ]);
      await npmCiOffline(out);
    } finally {
      await rm(join(repo, 'apps/docs/utils.js'), { force: true });
    }
  }, 180_000);
});
