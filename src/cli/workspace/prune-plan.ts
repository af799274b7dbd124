import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import type { WorkspacePackage } from './discover.js';
import { PackageGraph } from './package-graph.js';

/** The lockfiles prune can rewrite (npm's), in the order npm itself prefers them. */
export const NPM_LOCKFILES = ['npm-shrinkwrap.json', 'package-lock.json'] as const;
const OTHER_LOCKFILES = ['pnpm-lock.yaml', 'yarn.lock', 'bun.lock', 'bun.lockb'] as const;

const byDir = (a: WorkspacePackage, b: WorkspacePackage): number => (a.relDir < b.relDir ? -1 : a.relDir > b.relDir ? 1 : 0);

/**
 * The packages a pruned copy holds: the ones named and every workspace package they depend on
 * (dependencies, devDependencies, peerDependencies), transitively. A name that is no package is
 * an error naming it, before anything is written.
 */
export function packagesToKeep(packages: readonly WorkspacePackage[], targets: readonly string[]): WorkspacePackage[] {
  const graph = new PackageGraph(packages);
  const known = new Set(graph.names);
  const unknown = targets.filter((t) => !known.has(t));
  if (unknown.length > 0) {
    throw new UsageError(`${unknown.map((n) => `no package found with name '${n}' in workspace`).join('; ')} (velocity ls lists them)`);
  }
  const keep = new Set<string>();
  for (const t of targets) {
    keep.add(t);
    for (const d of graph.dependenciesOf(t)) keep.add(d);
  }
  return packages.filter((p) => keep.has(p.name)).sort(byDir);
}

/**
 * The npm lockfile to prune, or undefined when the repository has none. Another package
 * manager's lockfile is an error: a copy without it would install other versions than the
 * repository's, silently.
 */
export function npmLockfileOf(root: string): string | undefined {
  const npm = NPM_LOCKFILES.find((name) => existsSync(join(root, name)));
  if (npm) return npm;
  const other = OTHER_LOCKFILES.find((name) => existsSync(join(root, name)));
  if (other) throw new UsageError(`velocity prune rewrites npm lockfiles (package-lock.json, npm-shrinkwrap.json) only; this repository has ${other}`);
  return undefined;
}

/**
 * The output folder, relative to the repository root as turbo's is. It must not be the root or
 * hold it, and must be new or empty: writing over an earlier output would leave its files in the
 * copy, and clearing a folder given by mistake (`--out-dir=.`) is not something to risk.
 */
export function outputFolder(root: string, outDir: string | undefined): { abs: string; rel: string | undefined } {
  if (outDir === '') throw new UsageError('--out-dir must not be empty');
  const abs = resolve(root, outDir ?? 'out');
  const back = relative(abs, root);
  if (back === '' || (back !== '..' && !back.startsWith(`..${sep}`) && !isAbsolute(back))) {
    throw new UsageError(`--out-dir ${abs} is the repository root or holds it: choose a new folder`);
  }
  if (existsSync(abs) && readdirSync(abs).length > 0) {
    throw new UsageError(`${abs} already exists and is not empty: remove it or choose another --out-dir`);
  }
  const rel = relative(root, abs);
  const inside = rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  return { abs, rel: inside ? rel.split(sep).join('/') : undefined };
}
