import { existsSync, lstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { glob } from 'tinyglobby';
import { normalizeOutputGlob } from '../hashing/input-files.js';

/**
 * Expands output globs to the files, symlinks and folders to archive, relative to the package,
 * parents before children. .gitignore is deliberately not consulted: outputs such as `dist/` are
 * usually ignored by git and must still be cached. Folders are listed so empty ones survive.
 */
export async function expandOutputs(pkgDir: string, outputs: readonly string[]): Promise<string[]> {
  if (outputs.length === 0) return [];
  const positive = outputs.filter((p) => !p.startsWith('!'));
  const negative = outputs.filter((p) => p.startsWith('!')).map((p) => normalizeOutputGlob(p.slice(1)));
  const patterns = positive.map(normalizeOutputGlob);
  const found = await glob(patterns, {
    cwd: pkgDir,
    dot: true,
    onlyFiles: false,
    // Followed only to be found: a symlink is archived as a link, never as its target's contents.
    followSymbolicLinks: true,
    expandDirectories: false,
    ignore: ['**/node_modules/**', '**/.git/**', ...negative],
  });
  const paths = new Set<string>();
  const isLink = new Map<string, boolean>();
  const linkAt = (rel: string): boolean => {
    let v = isLink.get(rel);
    if (v === undefined) {
      v = lstatSync(join(pkgDir, rel), { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
      isLink.set(rel, v);
    }
    return v;
  };
  for (const raw of found) {
    const parts = raw.replace(/\/+$/, '').split('/');
    if (parts.length === 1 && (parts[0] === '' || parts[0] === '.')) continue;
    let end = parts.length;
    for (let i = 1; i < parts.length; i++) {
      if (linkAt(parts.slice(0, i).join('/'))) {
        end = i;
        break;
      }
    }
    paths.add(parts.slice(0, end).join('/'));
  }
  // `build/` names the folder itself too, even when it is empty.
  for (const p of positive) {
    if (!p.endsWith('/')) continue;
    const dir = p.replace(/\/+$/, '');
    const abs = join(pkgDir, dir);
    if (existsSync(abs) && statSync(abs).isDirectory()) paths.add(dir);
  }
  // Every parent folder of an entry is an entry too, so modes of folders are restored as well.
  for (const p of [...paths]) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) paths.add(parts.slice(0, i).join('/'));
  }
  return [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
