import { copyFile, lstat, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { UsageError } from '../errors.js';
import type { GitIgnoreMatcher } from '../hashing/gitignore.js';

/** A file to copy: its path relative to the repository root (POSIX), and what it is. */
export type PruneEntry = { path: string; kind: 'file' } | { path: string; kind: 'symlink'; target: string };

/** Never copied, whatever .gitignore says: VCS data, installed packages, our own cache. */
const NEVER_COPIED = new Set(['.git', 'node_modules', '.velocity']);

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !/^[A-Za-z]:/.test(rel) && !rel.startsWith(sep));
}

/**
 * Refuses a folder whose real location is outside the repository (a package folder that is a
 * symlink to elsewhere): prune never reads, let alone copies, what lies outside.
 */
export function checkInsideRepository(root: string, relDir: string): void {
  const realRoot = realpathSync(root);
  let real: string;
  try {
    real = realpathSync(join(root, relDir));
  } catch (err) {
    throw new UsageError(`cannot read ${relDir}: ${(err as Error).message}`);
  }
  if (!isInside(realRoot, real)) throw new UsageError(`${relDir} is outside the repository (it leads to ${real}): velocity prune copies only what is inside it`);
}

export interface WalkOptions {
  root: string;
  /** The folder to list, relative to the root (POSIX). */
  relDir: string;
  gitignore: GitIgnoreMatcher;
  /** Folders (relative to the root) left out: packages nested in this one that are not kept, the output folder. */
  skip: ReadonlySet<string>;
}

async function symlinkEntry(root: string, path: string): Promise<PruneEntry> {
  const target = await readlink(join(root, path));
  const lands = posix.normalize(posix.join(posix.dirname(path), target.replace(/\\/g, '/')));
  if (posix.isAbsolute(target) || /^[A-Za-z]:/.test(target) || lands === '..' || lands.startsWith('../')) {
    throw new UsageError(`${path} is a symlink to ${target}, outside the repository: velocity prune copies only what is inside it (make the link relative and inside the repository, or list it in .gitignore)`);
  }
  return { path, kind: 'symlink', target };
}

/**
 * Every file of a package folder that belongs in a pruned copy: what git would see (files
 * .gitignore ignores are left out, untracked ones are in), never node_modules, .git or .velocity.
 * Symlinks are listed as symlinks, never followed; one that is absolute or leads out of the
 * repository is refused with its name, since the copy would point at something it does not hold.
 */
export async function listPackageFiles(opts: WalkOptions): Promise<PruneEntry[]> {
  const found: PruneEntry[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(opts.root, rel), { withFileTypes: true });
    for (const entry of entries) {
      if (NEVER_COPIED.has(entry.name)) continue;
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!opts.skip.has(path)) await walk(path);
      } else if (entry.isFile()) {
        if (!(await opts.gitignore.ignores(path))) found.push({ path, kind: 'file' });
      } else if (entry.isSymbolicLink()) {
        if (!(await opts.gitignore.ignores(path))) found.push(await symlinkEntry(opts.root, path));
      }
      // Sockets, FIFOs and devices are not sources: left out.
    }
  };
  await walk(opts.relDir === '.' ? '' : opts.relDir);
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The named files at the root that exist (package.json, velocity.yml, .gitignore...), as entries. */
export async function rootFiles(root: string, files: readonly string[]): Promise<PruneEntry[]> {
  const found: PruneEntry[] = [];
  for (const path of files) {
    let stat;
    try {
      stat = await lstat(join(root, path));
    } catch {
      continue;
    }
    if (stat.isFile()) found.push({ path, kind: 'file' });
    else if (stat.isSymbolicLink()) found.push(await symlinkEntry(root, path));
  }
  return found;
}

/** Copies listed entries from the root into `dest` (files keep their mode, symlinks their target). */
export async function copyEntries(root: string, dest: string, entries: readonly PruneEntry[]): Promise<void> {
  const made = new Set<string>();
  for (const entry of entries) {
    const to = join(dest, ...entry.path.split('/'));
    const folder = dirname(to);
    if (!made.has(folder)) {
      await mkdir(folder, { recursive: true });
      made.add(folder);
    }
    if (entry.kind === 'file') await copyFile(join(root, ...entry.path.split('/')), to);
    else await symlink(entry.target, to);
  }
}
