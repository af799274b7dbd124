import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { copyFile, readFile, readdir, rm, stat } from 'node:fs/promises';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gitdir, removeGitdirs, writeTree } from '../../fixtures/cli/monorepo.js';
import { CONFIG_DOCS, STARTER_CONFIG } from '../../../src/cli/config/load.js';
import { ensureBuiltCli, VELOCITY_BIN } from './spawn-cli.js';

// The light CLI package (packages/cli): the esbuild bundle alone, so `npx @velocity/cli` installs
// one file instead of the server's dependency tree.

const REPO = resolve(import.meta.dirname, '../../..');
const LIGHT = join(REPO, 'packages/cli');
const BUNDLE = join(LIGHT, 'velocity.mjs');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command with the test's environment minus npm's own npm_* variables (an `npm test` run sets them for this repository). */
function exec(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  const merged = { ...base, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', CI: '1', NO_COLOR: '1', ...env };
  return new Promise((done) => {
    execFile(file, args, { cwd, env: merged, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function ok(file: string, args: string[], cwd: string): Promise<Run> {
  const r = await exec(file, args, cwd);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} in ${cwd} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** npm prints lifecycle banners (prepack) on stdout before the JSON: the JSON is what starts at a line "[". */
const packJson = (stdout: string): Array<{ name: string; version: string; files: Array<{ path: string; mode: number }> }> =>
  JSON.parse(stdout.slice(stdout.search(/^\[/m))) as Array<{ name: string; version: string; files: Array<{ path: string; mode: number }> }>;

beforeAll(() => {
  ensureBuiltCli();
  // A dist/ built before the light package existed: bundle-cli refreshes the copy without rebundling.
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < statSync(VELOCITY_BIN).mtimeMs) {
    execFileSync(process.execPath, [join(REPO, 'scripts/bundle-cli.mjs')], { cwd: REPO, stdio: 'ignore' });
  }
}, 180_000);
afterAll(removeGitdirs);

describe('the light CLI package', () => {
  it('packs the bundle, package.json and README only; no dependencies; the version is the repository\'s', async () => {
    const manifest = JSON.parse(await readFile(join(LIGHT, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: '@velocity/cli', version: VERSION, bin: { velocity: 'velocity.mjs' } });
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies']) expect(manifest[field]).toBeUndefined();
    const r = await ok('npm', ['pack', '--dry-run', '--json'], LIGHT);
    const [pack] = packJson(r.stdout);
    expect(pack!.files.map((f) => f.path).sort()).toEqual(['README.md', 'package.json', 'velocity.mjs']);
    expect(pack!.files.find((f) => f.path === 'velocity.mjs')!.mode & 0o111).not.toBe(0);
    // The bundle is the CLI users get from the main package too, minus its source map comment.
    const main = await readFile(VELOCITY_BIN, 'utf8');
    expect(await readFile(BUNDLE, 'utf8')).toBe(main.replace(/\n\/\/# sourceMappingURL=velocity\.js\.map\n?$/, '\n'));
  });

  it('runs from an empty folder with no node_modules anywhere above: --version, the missing-config message, and a cached run', async () => {
    const dir = await gitdir({}, 'velocity-light-');
    for (let d = dir; d !== dirname(d); d = dirname(d)) expect([d, existsSync(join(d, 'node_modules'))]).toEqual([d, false]);
    await copyFile(BUNDLE, join(dir, 'velocity.mjs'));
    expect(await readdir(dir)).toEqual(['velocity.mjs']);

    expect(await exec(process.execPath, ['velocity.mjs', '--version'], dir)).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });

    // No velocity.yml: the message shows a starter file and the docs' section, not a file the package lacks.
    const missing = await exec(process.execPath, ['velocity.mjs', 'run', 'build'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      `velocity: no velocity.yml found in ${dir} or any parent directory. Create one at the repository root, for example:\n\n${STARTER_CONFIG.split('\n').map((l) => `  ${l}`).join('\n')}\n\nEvery field is described in docs/cli.md#velocityyml (the velocity repository's documentation).\n`,
    );
    expect(missing.stderr).not.toContain('velocity.yml.example');
    const docs = await readFile(join(REPO, 'docs/cli.md'), 'utf8');
    expect(CONFIG_DOCS).toBe('docs/cli.md#velocityyml');
    expect(docs).toMatch(/^## `velocity\.yml`$/m);

    // The starter file as the message shows it works as it is, and every lazily loaded part of the bundle (yaml, zod, tar, zlib) is in it.
    await writeTree(dir, {
      'velocity.yml': `${STARTER_CONFIG}\n`,
      'package.json': JSON.stringify({ name: 'light-root', private: true, workspaces: ['packages/*'] }),
      'packages/a/package.json': JSON.stringify({ name: 'a', version: '1.0.0', scripts: { build: "node -e \"require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/a.txt','built a')\"" } }),
    });
    const first = await exec(process.execPath, ['velocity.mjs', 'run', 'build', '--json'], dir);
    expect([first.code, (JSON.parse(first.stdout) as { counts: unknown }).counts]).toEqual([0, { tasks: 1, hitsLocal: 0, hitsRemote: 0, misses: 1, failed: 0, notRun: 0 }]);
    await rm(join(dir, 'packages/a/dist'), { recursive: true });
    const second = await exec(process.execPath, ['velocity.mjs', 'run', 'build', '--json'], dir);
    expect([second.code, (JSON.parse(second.stdout) as { counts: unknown }).counts]).toEqual([0, { tasks: 1, hitsLocal: 1, hitsRemote: 0, misses: 0, failed: 0, notRun: 0 }]);
    expect(await readFile(join(dir, 'packages/a/dist/a.txt'), 'utf8')).toBe('built a');
  }, 120_000);

  it('installs as one package with no dependencies (offline, from its packed tarball) and runs through npx', async () => {
    const dest = await gitdir({}, 'velocity-light-pack-');
    const packed = packJson((await ok('npm', ['pack', '--json', '--pack-destination', dest], LIGHT)).stdout);
    const tarball = join(dest, (packed[0] as unknown as { filename: string }).filename);
    const project = await gitdir({ 'package.json': JSON.stringify({ name: 'user-project', private: true }) }, 'velocity-light-user-');
    await ok('npm', ['install', '--offline', '--ignore-scripts', tarball], project);
    const hidden = JSON.parse(await readFile(join(project, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    expect(Object.keys(hidden.packages)).toEqual(['node_modules/@velocity/cli']);
    expect((await readdir(join(project, 'node_modules/@velocity/cli'))).sort()).toEqual(['README.md', 'package.json', 'velocity.mjs']);
    const size = (await stat(join(project, 'node_modules/@velocity/cli/velocity.mjs'))).size;
    expect(size).toBeLessThan(4 * 1024 * 1024);
    expect(await exec('npx', ['--offline', 'velocity', '--version'], project)).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  }, 120_000);
});
