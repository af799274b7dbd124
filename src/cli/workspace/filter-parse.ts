import { posix } from 'node:path';
import { UsageError } from '../errors.js';

/** `[from]` or `[from...to]`: the files changed between two git revisions. */
export interface GitRange {
  from: string;
  /** Absent: up to the working tree, uncommitted and untracked files included. */
  to?: string | undefined;
}

/**
 * One `--filter` selector, turborepo's (and pnpm's) language:
 *
 *   name        `web`, `@scope/*` (`*` matches any characters, `/` included)
 *   directory   `./packages/ui`, `./packages/*`, `{packages/ui}` (relative to the repository root)
 *   git range   `[HEAD^1]`, `[main...HEAD]`: packages with changed files
 *   pkg...      and its dependencies        ...pkg   and its dependents
 *   pkg^...     its dependencies only       ...^pkg  its dependents only
 *   name...[r]  `name` when it or one of its dependencies changed in `r`
 *   !selector   excluded from the others
 *
 * The parts combine: `...{./apps/*}[main]` is every app changed since main, and what depends on it.
 */
export interface Selector {
  raw: string;
  exclude: boolean;
  /** `pkg...`: the packages it depends on, transitively. */
  includeDependencies: boolean;
  /** `...pkg`: the packages that depend on it, transitively. */
  includeDependents: boolean;
  /** `^`: the matched packages themselves are left out (only with `...`). */
  excludeSelf: boolean;
  name?: string | undefined;
  /** POSIX, relative to the root, normalized (`packages/*`, `.`). */
  directory?: string | undefined;
  gitRange?: GitRange | undefined;
  /** `name...[range]`: keep `name` when it or any of its dependencies changed. */
  matchDependencies: boolean;
}

const invalid = (raw: string, why: string): UsageError => new UsageError(`--filter "${raw}": ${why}`);

/**
 * A git revision as a selector may name one: never an option (`-...`), no whitespace or control
 * characters; git itself decides whether it exists. Refs reach git as arguments, never a shell.
 */
export function checkRevision(rev: string, what: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (rev === '' || rev.startsWith('-') || /[\s\u0000-\u001f\u007f]/.test(rev)) {
    throw new UsageError(`${what}: "${rev}" is not a git revision`);
  }
  return rev;
}

const isPath = (s: string): boolean => s === '.' || s === '..' || /^\.\.?[\\/]/.test(s);

function normalizeDirectory(raw: string, dir: string): string {
  const unix = dir.replace(/\\/g, '/');
  if (unix.startsWith('/') || /^[A-Za-z]:/.test(unix)) throw invalid(raw, 'directories are relative to the repository root');
  const normalized = posix.normalize(unix).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) throw invalid(raw, 'the directory is outside the repository root');
  return normalized === '' ? '.' : normalized;
}

function parseRange(raw: string, inner: string): GitRange {
  const sep = inner.indexOf('...');
  const what = `--filter "${raw}"`;
  if (sep === -1) return { from: checkRevision(inner, what) };
  return { from: checkRevision(inner.slice(0, sep), what), to: checkRevision(inner.slice(sep + 3), what) };
}

// name? {directory}? ...? [range]?  (a name never holds braces or brackets)
const PARTS = /^(?<name>[^{}[\]]*?)(?:\{(?<dir>[^{}]*)\})?(?<dots>\.\.\.)?(?:\[(?<range>[^[\]]*)\])?$/;

export function parseSelector(raw: string): Selector {
  const sel: Selector = { raw, exclude: false, includeDependencies: false, includeDependents: false, excludeSelf: false, matchDependencies: false };
  let s = raw;
  if (s.startsWith('!')) {
    sel.exclude = true;
    s = s.slice(1);
  }
  if (s.endsWith('...')) {
    sel.includeDependencies = true;
    s = s.slice(0, -3);
    if (s.endsWith('^')) {
      sel.excludeSelf = true;
      s = s.slice(0, -1);
    }
  }
  if (s.startsWith('...')) {
    sel.includeDependents = true;
    s = s.slice(3);
    if (s.startsWith('^')) {
      sel.excludeSelf = true;
      s = s.slice(1);
    }
  }
  if (s === '') throw invalid(raw, 'a selector needs a package name, a directory or a git range');
  if (isPath(s)) {
    sel.directory = normalizeDirectory(raw, s);
    return sel;
  }
  const m = PARTS.exec(s);
  if (!m?.groups) throw invalid(raw, 'not a selector (name, {directory}, [git range], with ... and ^ around them)');
  const { name, dir, dots, range } = m.groups;
  if (dir !== undefined) {
    if (dir === '') throw invalid(raw, 'empty directory in {}');
    sel.directory = normalizeDirectory(raw, dir);
  }
  if (name !== undefined && name !== '') sel.name = name;
  if (range !== undefined) {
    if (range === '') throw invalid(raw, 'empty git range in []');
    sel.gitRange = parseRange(raw, range);
  }
  if (dots !== undefined) {
    if (sel.gitRange === undefined) throw invalid(raw, 'not a selector (name, {directory}, [git range], with ... and ^ around them)');
    if (sel.name === undefined && sel.directory === undefined) throw invalid(raw, '...[range] needs a package name or a directory before it');
    sel.matchDependencies = true;
  }
  if (sel.name === undefined && sel.directory === undefined && sel.gitRange === undefined) {
    throw invalid(raw, 'a selector needs a package name, a directory or a git range');
  }
  return sel;
}
