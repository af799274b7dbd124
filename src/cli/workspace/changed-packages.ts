import { CONFIG_FILES } from '../config/load.js';
import { LOCKFILES } from '../hashing/task-key.js';
import type { WorkspacePackage } from './discover.js';

/**
 * Root files every task depends on: velocity.yml (commands, outputs, env of every task) and the
 * root lockfiles (in every key). A change to one of them changes every package.
 */
export const GLOBAL_FILES: ReadonlySet<string> = new Set<string>([...CONFIG_FILES, ...LOCKFILES]);

/**
 * The packages changed files belong to: each file to the deepest package folder holding it.
 * Files in no package (a README at the root, CI config) change none, as with turborepo, except
 * the global files above, which change them all.
 */
export function packagesOfFiles(files: Iterable<string>, packages: readonly WorkspacePackage[]): Set<string> {
  // Deepest first, so a package nested in another's folder claims its own files.
  const byDepth = [...packages].sort((a, b) => b.relDir.length - a.relDir.length);
  const changed = new Set<string>();
  for (const file of files) {
    if (GLOBAL_FILES.has(file)) return new Set(packages.map((p) => p.name));
    const owner = byDepth.find((p) => p.relDir === '.' || file.startsWith(`${p.relDir}/`));
    if (owner) changed.add(owner.name);
  }
  return changed;
}
