import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pruneNpmLockfile, resolveFrom } from '../../../src/cli/workspace/prune-lockfile.js';

const present = (...keys: string[]): Record<string, unknown> => Object.fromEntries(keys.map((k) => [k, {}]));

describe('resolveFrom: where Node finds a dependency, as npm laid it out', () => {
  it.each<[string[], string, string, string | undefined]>([
    [['node_modules/b'], '', 'b', 'node_modules/b'],
    [['node_modules/b', 'node_modules/a/node_modules/b'], 'node_modules/a', 'b', 'node_modules/a/node_modules/b'],
    [['node_modules/b', 'node_modules/a/node_modules/b'], 'node_modules/c', 'b', 'node_modules/b'],
    // Three levels deep: the nearest enclosing node_modules wins, never a sibling's.
    [['node_modules/a/node_modules/x', 'node_modules/x'], 'node_modules/a/node_modules/b/node_modules/c', 'x', 'node_modules/a/node_modules/x'],
    [['node_modules/q/node_modules/x', 'node_modules/x'], 'node_modules/a/node_modules/b', 'x', 'node_modules/x'],
    // A workspace folder looks in its own node_modules, then in its parents' (not inside node_modules folders).
    [['apps/web/node_modules/x', 'node_modules/x'], 'apps/web', 'x', 'apps/web/node_modules/x'],
    [['apps/node_modules/x', 'node_modules/x'], 'apps/web', 'x', 'apps/node_modules/x'],
    [['node_modules/x'], 'apps/web/node_modules/y', 'x', 'node_modules/x'],
    [['node_modules/@s/x', 'node_modules/@s/y/node_modules/@s/x'], 'node_modules/@s/y', '@s/x', 'node_modules/@s/y/node_modules/@s/x'],
    [['node_modules/b'], 'node_modules/a', 'missing', undefined],
  ])('%j from "%s" finds %s', (keys, from, name, expected) => {
    expect(resolveFrom(present(...keys), from, name)).toBe(expected);
  });
});

const lock = (packages: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  `${JSON.stringify({ name: 'root', version: '1.0.0', lockfileVersion: 3, requires: true, packages, ...extra }, null, 2)}\n`;

describe('pruneNpmLockfile', () => {
  const packages = {
    '': { name: 'root', workspaces: ['packages/*'], devDependencies: { tool: '^1' } },
    'node_modules/a': { resolved: 'packages/a', link: true },
    'node_modules/b': { resolved: 'packages/b', link: true },
    'node_modules/dep': { version: '1.0.0', dependencies: { sub: '^2' }, peerDependencies: { 'optional-peer': '*' }, peerDependenciesMeta: { 'optional-peer': { optional: true } } },
    'node_modules/dep/node_modules/sub': { version: '2.0.0' },
    'node_modules/only-b': { version: '1.0.0', optionalDependencies: { 'native-x': '1' } },
    'node_modules/native-x': { version: '1.0.0', optional: true, os: ['linux'] },
    'node_modules/sub': { version: '1.0.0' },
    'node_modules/tool': { version: '1.2.3', dev: true },
    'packages/a': { name: 'a', version: '0.0.0', dependencies: { dep: '^1' } },
    'packages/b': { name: 'b', version: '0.0.0', dependencies: { 'only-b': '^1', a: '*' } },
  };

  it('keeps the root, the workspaces, their links and what their dependencies resolve to, transitively; entries unchanged, in order', () => {
    const text = lock(packages);
    const pruned = pruneNpmLockfile(text, 'package-lock.json', ['packages/a']);
    expect(pruned.kept).toEqual(['', 'node_modules/a', 'node_modules/dep', 'node_modules/dep/node_modules/sub', 'node_modules/tool', 'packages/a']);
    expect(pruned.dropped).toEqual(['node_modules/b', 'node_modules/only-b', 'node_modules/native-x', 'node_modules/sub', 'packages/b']);
    expect([...pruned.linked]).toEqual(['packages/a']);
    const parsed = JSON.parse(pruned.text) as { packages: Record<string, unknown> };
    expect(parsed).toEqual({ name: 'root', version: '1.0.0', lockfileVersion: 3, requires: true, packages: Object.fromEntries(pruned.kept.map((k) => [k, packages[k as keyof typeof packages]])) });
    // Same layout as the original: the same text, whole entries removed.
    const whole = pruneNpmLockfile(text, 'package-lock.json', ['packages/a', 'packages/b']);
    expect(whole.dropped).toEqual(['node_modules/sub']);
    expect(whole.text).toBe(lock(Object.fromEntries(Object.entries(packages).filter(([k]) => k !== 'node_modules/sub'))));
  });

  it('follows optional dependencies and links to workspaces not asked for (they must be copied too)', () => {
    const pruned = pruneNpmLockfile(lock(packages), 'package-lock.json', ['packages/b']);
    expect(pruned.kept).toEqual(['', 'node_modules/a', 'node_modules/b', 'node_modules/dep', 'node_modules/dep/node_modules/sub', 'node_modules/only-b', 'node_modules/native-x', 'node_modules/tool', 'packages/a', 'packages/b']);
    expect([...pruned.linked].sort()).toEqual(['packages/a', 'packages/b']);
  });

  it('keeps the indentation and line endings of the original', () => {
    const tabs = JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'packages/a': {} } }, null, '\t').replace(/\n/g, '\r\n') + '\r\n';
    expect(pruneNpmLockfile(tabs, 'package-lock.json', ['packages/a']).text).toBe(tabs);
  });

  it('prunes the npm 6 tree of a lockfileVersion 2 the same way', () => {
    const v2 = `${JSON.stringify({
      lockfileVersion: 2,
      packages: { '': {}, 'packages/a': { dependencies: { x: '1' } }, 'node_modules/a': { resolved: 'packages/a', link: true }, 'node_modules/x': { version: '1.0.0', dependencies: { y: '1' } }, 'node_modules/x/node_modules/y': { version: '1.0.0' }, 'node_modules/z': { version: '1.0.0', dependencies: { y: '2' } }, 'node_modules/z/node_modules/y': { version: '2.0.0' } },
      dependencies: { a: { version: 'file:packages/a' }, x: { version: '1.0.0', requires: { y: '1' }, dependencies: { y: { version: '1.0.0' } } }, z: { version: '1.0.0', dependencies: { y: { version: '2.0.0' } } } },
    }, null, 2)}\n`;
    const pruned = JSON.parse(pruneNpmLockfile(v2, 'package-lock.json', ['packages/a']).text) as Record<string, unknown>;
    expect(pruned.dependencies).toEqual({ a: { version: 'file:packages/a' }, x: { version: '1.0.0', requires: { y: '1' }, dependencies: { y: { version: '1.0.0' } } } });
    expect(Object.keys(pruned.packages as object)).toEqual(['', 'packages/a', 'node_modules/a', 'node_modules/x', 'node_modules/x/node_modules/y']);
  });

  it.each<[string, string | RegExp]>([
    ['[]', 'package-lock.json: not a lockfile (not a JSON object)'],
    ['{"lockfileVersion": 4, "packages": {}}', 'package-lock.json: lockfileVersion 4 is not one velocity prune knows (2 or 3)'],
    ['{"lockfileVersion": 3, "packages": []}', 'package-lock.json: "packages" must be an object'],
    ['{"lockfileVersion": 3, "packages": {"": {}, "packages/a": 1}}', 'package-lock.json: packages["packages/a"] must be an object'],
    ['{"lockfileVersion": 3, "packages": {"packages/a": {}}}', 'package-lock.json has no entry for the root package: run npm install to bring it up to date'],
    ['{"lockfileVersion": 3, "packages": {"": {}, "packages/a": {"dependencies": {"x": "1"}}, "node_modules/x": {"link": true, "resolved": "/opt/x"}}}', 'package-lock.json: "node_modules/x" links to /opt/x, outside the repository: velocity prune copies only what is inside it'],
    ['{"lockfileVersion": 3, "packages": {"": {}, "packages/a": {"dependencies": {"x": "1"}}, "node_modules/x": {"link": true, "resolved": "packages/../../x"}}}', /links to packages\/\.\.\/\.\.\/x, outside the repository/],
    ['{"lockfileVersion": 3, "packages": {"": {}, "packages/a": {"dependencies": {"x": "1"}}, "node_modules/x": {"link": true}}}', 'package-lock.json: "node_modules/x" is a link without a "resolved" folder: run npm install to repair the lockfile'],
  ])('refuses %s', (text, message) => {
    expect(() => pruneNpmLockfile(text, 'package-lock.json', ['packages/a'])).toThrow(message);
  });
});

describe('pruneNpmLockfile on a lockfile npm wrote (this repository\'s)', () => {
  const text = readFileSync(join(import.meta.dirname, '../../../package-lock.json'), 'utf8');
  const full = JSON.parse(text) as { packages: Record<string, { dev?: boolean }> & { '': { devDependencies?: unknown } } };

  it('keeps every entry for the root, byte for byte: nothing npm installs is unreachable by the walk', () => {
    const pruned = pruneNpmLockfile(text, 'package-lock.json', []);
    expect(pruned.dropped).toEqual([]);
    expect(pruned.text).toBe(text);
  });

  it('without the root\'s devDependencies, drops exactly the entries npm flagged dev (reachable only through them)', () => {
    const { devDependencies: _, ...root } = full.packages[''];
    const prodOnly = JSON.stringify({ ...full, packages: { ...full.packages, '': root } }, null, 2);
    const pruned = pruneNpmLockfile(prodOnly, 'package-lock.json', []);
    const dev = Object.keys(full.packages).filter((k) => full.packages[k]!.dev === true);
    expect(dev.length).toBeGreaterThan(0);
    expect(pruned.dropped).toEqual(dev);
  });
});
