import { describe, expect, it } from '@jest/globals';
import { UsageError } from '../../../src/cli/errors.js';
import type { WorkspacePackage } from '../../../src/cli/workspace/discover.js';
import type { GitRange } from '../../../src/cli/workspace/filter-parse.js';
import { nameMatcher, resolveFilters } from '../../../src/cli/workspace/filter-resolve.js';
import { packagesOfFiles } from '../../../src/cli/workspace/changed-packages.js';
import { PackageGraph } from '../../../src/cli/workspace/package-graph.js';

const pkg = (name: string, relDir: string, dependencies: string[] = []): WorkspacePackage => ({ name, dir: `/r/${relDir}`, relDir, dependencies });

// The graph turbo 2.11.11 was run on for the expectations below (and a few more packages):
//   web -> @s/b -> @s/a     web -> c     docs -> web     tool (alone, nested in tools/)
const PACKAGES = [
  pkg('@s/a', 'packages/a'),
  pkg('@s/b', 'packages/b', ['@s/a']),
  pkg('c', 'packages/c'),
  pkg('web', 'apps/web', ['@s/b', 'c']),
  pkg('docs', 'apps/docs', ['web']),
  pkg('tool', 'tools/tool'),
];
const DIRS = new Set(['/r', '/r/packages', '/r/packages/a', '/r/packages/b', '/r/packages/c', '/r/apps', '/r/apps/web', '/r/apps/docs', '/r/tools', '/r/tools/tool', '/r/empty']);

/** Changes per range, as git would report them (package names here; files in the packagesOfFiles test). */
const CHANGES: Record<string, string[]> = { 'HEAD^1': ['@s/a'], 'main\u0000HEAD': ['c'], HEAD: [] };

async function resolve(filters: string[]): Promise<{ names: string[]; warnings: string[]; asked: GitRange[] }> {
  const warnings: string[] = [];
  const asked: GitRange[] = [];
  const set = await resolveFilters(filters, {
    graph: new PackageGraph(PACKAGES),
    root: '/r',
    changedPackages: (range) => {
      asked.push(range);
      const changed = CHANGES[range.to === undefined ? range.from : `${range.from}\u0000${range.to}`];
      if (!changed) throw new Error(`unexpected range ${JSON.stringify(range)}`);
      return Promise.resolve(new Set(changed));
    },
    directoryExists: (abs) => DIRS.has(abs),
    warn: (m) => warnings.push(m),
  });
  return { names: [...set].sort(), warnings, asked };
}

const names = async (...filters: string[]): Promise<string[]> => (await resolve(filters)).names;

describe('--filter resolution', () => {
  it('exact names and globs on names (`*` crosses `/`, as in turbo)', async () => {
    expect(await names('web')).toEqual(['web']);
    expect(await names('@s/*')).toEqual(['@s/a', '@s/b']);
    expect(await names('@s*')).toEqual(['@s/a', '@s/b']);
    expect(await names('*b')).toEqual(['@s/b', 'web']);
    expect(await names('*')).toEqual(PACKAGES.map((p) => p.name).sort());
    expect(nameMatcher('a.b+c')('a.b+c')).toBe(true);
    expect(nameMatcher('a.*')('axb')).toBe(false);
  });

  it('paths: exact folders and globs, relative to the root', async () => {
    expect(await names('./packages/a')).toEqual(['@s/a']);
    expect(await names('./packages/*')).toEqual(['@s/a', '@s/b', 'c']);
    expect(await names('{apps/*}')).toEqual(['docs', 'web']);
    expect(await names('./apps/**')).toEqual(['docs', 'web']);
    // A folder holding packages is not a package (turbo: "0 no packages").
    expect(await resolve(['./packages'])).toEqual({ names: [], warnings: ['--filter "./packages": no package matches'], asked: [] });
  });

  it('pkg... (and its dependencies) and ...pkg (and its dependents)', async () => {
    expect(await names('web...')).toEqual(['@s/a', '@s/b', 'c', 'web']);
    expect(await names('...@s/a')).toEqual(['@s/a', '@s/b', 'docs', 'web']);
    expect(await names('@s/b...')).toEqual(['@s/a', '@s/b']);
    expect(await names('...c')).toEqual(['c', 'docs', 'web']);
    // Both ways: the dependents' dependencies too, so they can build.
    expect(await names('...@s/a...')).toEqual(['@s/a', '@s/b', 'c', 'docs', 'web']);
    expect(await names('./packages/b...')).toEqual(['@s/a', '@s/b']);
    expect(await names('...{./packages/a}')).toEqual(['@s/a', '@s/b', 'docs', 'web']);
  });

  it('the ^ forms leave the package itself out', async () => {
    expect(await names('web^...')).toEqual(['@s/a', '@s/b', 'c']);
    expect(await names('...^@s/a')).toEqual(['@s/b', 'docs', 'web']);
    expect(await names('@s/a^...')).toEqual([]);
    expect(await names('...^docs')).toEqual([]);
    // One entry reached from another entry stays.
    expect(await names('@s/*^...')).toEqual(['@s/a']);
  });

  it('[git-range]: the changed packages, combinable with ..., ^, names and folders', async () => {
    const r = await resolve(['[HEAD^1]']);
    expect(r.names).toEqual(['@s/a']);
    expect(r.asked).toEqual([{ from: 'HEAD^1' }]);
    expect(await names('...[HEAD^1]')).toEqual(['@s/a', '@s/b', 'docs', 'web']);
    expect(await names('...^[HEAD^1]')).toEqual(['@s/b', 'docs', 'web']);
    expect(await names('[HEAD^1]...')).toEqual(['@s/a']);
    expect(await names('[main...HEAD]')).toEqual(['c']);
    expect(await names('...[main...HEAD]')).toEqual(['c', 'docs', 'web']);
    expect(await names('[HEAD]')).toEqual([]);
    // A name (or folder) and a range: those of them that changed.
    expect(await names('@s/*[HEAD^1]')).toEqual(['@s/a']);
    expect(await names('{./apps/*}[HEAD^1]')).toEqual([]);
    // name...[range]: the named package when it or one of its dependencies changed.
    expect(await names('web...[HEAD^1]')).toEqual(['web']);
    expect(await names('c...[HEAD^1]')).toEqual([]);
    expect(await names('web...[HEAD^1]...')).toEqual(['@s/a', '@s/b', 'c', 'web']);
  });

  it('asks git once per distinct range', async () => {
    const r = await resolve(['[HEAD^1]', '...[HEAD^1]', '![HEAD^1]', '[main...HEAD]']);
    expect(r.asked).toEqual([{ from: 'HEAD^1' }, { from: 'main', to: 'HEAD' }]);
  });

  it('several filters union; ! subtracts, and alone starts from every package', async () => {
    expect(await names('c', '@s/a')).toEqual(['@s/a', 'c']);
    expect(await names('web...', '!@s/*')).toEqual(['c', 'web']);
    expect(await names('!c')).toEqual(['@s/a', '@s/b', 'docs', 'tool', 'web']);
    expect(await names('!...@s/b')).toEqual(['@s/a', 'c', 'tool']);
    expect(await names('!./packages/*')).toEqual(['docs', 'tool', 'web']);
    expect(await names('!./packages/*', '!tool')).toEqual(['docs', 'web']);
    expect(await names('...[HEAD^1]', '![HEAD^1]')).toEqual(['@s/b', 'docs', 'web']);
  });

  it('an exact name or folder that is not there is an error naming it; a glob matching nothing is a warning', async () => {
    await expect(names('nope')).rejects.toThrow(new UsageError(`--filter "nope": no package found with name 'nope' in workspace`));
    await expect(names('web', '...nope')).rejects.toThrow(`no package found with name 'nope' in workspace`);
    await expect(names('!nope')).rejects.toThrow(`--filter "!nope": no package found with name 'nope'`);
    await expect(names('./nope')).rejects.toThrow(`--filter "./nope": directory '/r/nope' does not exist`);
    expect(await resolve(['nope*'])).toMatchObject({ names: [], warnings: ['--filter "nope*": no package matches'] });
    expect(await resolve(['./empty'])).toMatchObject({ names: [], warnings: ['--filter "./empty": no package matches'] });
    // Parse errors come before any git question.
    const asked: GitRange[] = [];
    await expect(
      resolveFilters(['[HEAD^1]', '{}'], {
        graph: new PackageGraph(PACKAGES), root: '/r', directoryExists: () => true, warn: () => undefined,
        changedPackages: (r) => {
          asked.push(r);
          return Promise.resolve(new Set<string>());
        },
      }),
    ).rejects.toThrow('empty directory in {}');
    expect(asked).toEqual([]);
  });
});

describe('changed files to packages', () => {
  const nested = [...PACKAGES, pkg('inner', 'packages/a/inner')];
  it('gives each file to the deepest package folder holding it; root files change none', () => {
    expect([...packagesOfFiles(['packages/a/src/x.ts', 'packages/a/inner/y.ts', 'README.md', 'packages/abc/z.ts', '.github/ci.yml'], nested)].sort()).toEqual(['@s/a', 'inner']);
    expect([...packagesOfFiles(['packages/a/inner/y.ts'], nested)]).toEqual(['inner']);
  });
  it.each(['velocity.yml', 'package-lock.json', 'pnpm-lock.yaml', 'yarn.lock'])('%s (in every key) changes every package', (file) => {
    expect(packagesOfFiles([file], nested).size).toBe(nested.length);
  });
  it('a lockfile in a package folder is that package\'s file', () => {
    expect([...packagesOfFiles(['packages/c/package-lock.json'], nested)]).toEqual(['c']);
  });
});
