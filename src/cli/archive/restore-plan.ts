import { posix } from 'node:path';
import { ArtifactIntegrityError } from '../errors.js';
import { outputMatcher } from './output-matcher.js';
import { safeRelative } from './safe-path.js';

/** What a restore needs to know of a tar entry before any byte is written: its header. */
export interface EntryHeader {
  path: string;
  type: string;
  mode: number;
  linkpath: string;
  size: number;
}

export interface PlannedFile {
  rel: string;
  /** Position of the entry in the archive: the streamed restore writes the body it meets there. */
  index: number;
  mode: number;
}

/**
 * A validated restore: every path checked against the task's outputs, every link target checked,
 * before the first byte is written. The in-memory and the streamed restore both execute it
 * (restore-outputs.ts); neither decides anything on its own.
 */
export interface RestorePlan {
  /** Index of velocity.json in the archive. */
  metaIndex: number;
  /** The archive's headers in order: the streamed restore's second pass must meet the same ones. */
  headers: readonly EntryHeader[];
  /** Every folder the outputs need, parents first, one array per depth. */
  dirLevels: string[][];
  /** Mode of each folder the archive holds as an entry. */
  dirModes: Map<string, number>;
  /** Folders that are outputs themselves: only these may replace a file found on disk. */
  outputDirs: Set<string>;
  files: PlannedFile[];
  /** Hard links to a file of this same archive: [path, target path]. */
  hardLinks: Array<[string, string]>;
  /** Symbolic links whose target stays inside the package: [path, target as written]. */
  symlinks: Array<[string, string]>;
}

export const META_PATH = 'velocity.json';
export const OUTPUTS_PREFIX = 'outputs';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
/** Setuid and setgid never come back from a cache: a planted archive must not mint them. */
const MODE_MASK = 0o1777;

const refuse = (message: string): never => {
  throw new ArtifactIntegrityError(message);
};

/** The folder part of `rel` (POSIX), '' for the package itself. */
const parentOf = (rel: string): string => {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
};

/** A symlink's target, resolved from its folder, must name something inside the package. */
function symlinkStaysInside(rel: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || /^[A-Za-z]:/.test(target) || /[\\\0]/.test(target)) return false;
  const resolved = posix.normalize(posix.join(parentOf(rel), target));
  return resolved !== '..' && !resolved.startsWith('../') && resolved !== '.';
}

interface Claimed {
  rel: string;
  index: number;
  header: EntryHeader;
}

/** Entry path -> path relative to the package, or a refusal: `outputs/` only, never `..` or `/`. */
function relativeOf(header: EntryHeader): string {
  const prefix = `${OUTPUTS_PREFIX}/`;
  const rel = header.path.startsWith(prefix) ? safeRelative(header.path.slice(prefix.length)) : null;
  return rel ?? refuse(`archive entry has an unsafe path: ${header.path}`);
}

/** Later entries for a path win, as in tar; a path that is a folder in one and not in another is refused. */
function claim(headers: readonly EntryHeader[]): { metaIndex: number; byPath: Map<string, Claimed> } {
  let metaIndex = -1;
  const byPath = new Map<string, Claimed>();
  const outside: string[] = [];
  headers.forEach((header, index) => {
    if (header.path === META_PATH && FILE_TYPES.has(header.type) && metaIndex === -1) {
      metaIndex = index;
      return;
    }
    if (!header.path.startsWith(`${OUTPUTS_PREFIX}/`)) {
      outside.push(header.path);
      return;
    }
    const rel = relativeOf(header);
    const before = byPath.get(rel);
    if (before && (before.header.type === 'Directory') !== (header.type === 'Directory')) refuse(`archive has both a folder and a file at ${rel}`);
    byPath.set(rel, { rel, index, header });
  });
  if (outside.length > 0) refuse(`archive has entries outside the package: ${outside.slice(0, 3).join(', ')}`);
  if (metaIndex === -1) refuse('archive has no velocity.json');
  return { metaIndex, byPath };
}

/**
 * Checks a whole archive against the task's declared outputs and returns what to write:
 * - velocity.json plus entries under `outputs/`, nothing else;
 * - relative paths only (no absolute path, `..`, backslash or NUL);
 * - every file, link and symlink matches the output globs; a folder matches them or holds
 *   something that does;
 * - files, folders, symlinks, and hard links to a file of this archive: no other type
 *   (devices, FIFOs...);
 * - symlink targets stay inside the package, and nothing is written below a symlink or a file
 *   of the same archive.
 * What is on disk already is checked by checkDisk() (restore-outputs.ts), also before writing.
 */
export function planRestore(headers: readonly EntryHeader[], outputs: readonly string[]): RestorePlan {
  const { metaIndex, byPath } = claim(headers);
  const isOutput = outputMatcher(outputs);
  const needed = new Set<string>();
  const dirModes = new Map<string, number>();
  const outputDirs = new Set<string>();
  const files: PlannedFile[] = [];
  const hardLinks: Array<[string, string]> = [];
  const symlinks: Array<[string, string]> = [];
  const explicitDirs: Claimed[] = [];
  for (const c of byPath.values()) {
    const { rel, header } = c;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const other = byPath.get(dir);
      if (other && other.header.type !== 'Directory') refuse(`archive writes through the ${other.header.type === 'SymbolicLink' ? 'symlink' : 'file'} ${dir}`);
    }
    if (header.type === 'Directory') {
      explicitDirs.push(c);
      continue;
    }
    if (!isOutput(rel)) refuse(`archive entry ${rel} is not among the task's outputs (${outputs.join(', ') || 'none'})`);
    for (let i = 1; i < parts.length; i++) needed.add(parts.slice(0, i).join('/'));
    if (FILE_TYPES.has(header.type)) files.push({ rel, index: c.index, mode: header.mode & MODE_MASK });
    else if (header.type === 'SymbolicLink') {
      if (!symlinkStaysInside(rel, header.linkpath)) refuse(`archive symlink ${rel} points outside the package: ${header.linkpath}`);
      symlinks.push([rel, header.linkpath]);
    } else if (header.type === 'Link') hardLinks.push([rel, header.linkpath]);
    else refuse(`archive entry ${rel} has an unsupported type (${header.type})`);
  }
  // Folders last, deepest first: one is allowed when it is an output or holds an accepted entry.
  explicitDirs.sort((a, b) => b.rel.split('/').length - a.rel.split('/').length);
  for (const { rel, header } of explicitDirs) {
    if (isOutput(rel)) outputDirs.add(rel);
    else if (!needed.has(rel)) refuse(`archive folder ${rel} is not among the task's outputs (${outputs.join(', ') || 'none'})`);
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) needed.add(parts.slice(0, i).join('/'));
    dirModes.set(rel, header.mode & MODE_MASK);
  }
  const fileSet = new Set(files.map((f) => f.rel));
  const linkTargets = hardLinks.map(([rel, linkpath]): [string, string] => {
    const target = linkpath.startsWith(`${OUTPUTS_PREFIX}/`) ? safeRelative(linkpath.slice(OUTPUTS_PREFIX.length + 1)) : null;
    // Only to a file this archive writes (already checked against the outputs): anything else
    // could hand the package a second name for a file outside it.
    return target !== null && fileSet.has(target) ? [rel, target] : refuse(`archive hard link has an unsafe target: ${linkpath}`);
  });
  const dirLevels: string[][] = [];
  for (const dir of needed) (dirLevels[dir.split('/').length - 1] ??= []).push(dir);
  return {
    metaIndex,
    headers,
    dirLevels: dirLevels.filter((level) => level !== undefined),
    dirModes,
    outputDirs,
    files,
    hardLinks: linkTargets,
    symlinks,
  };
}
