import { join } from 'node:path';
import picomatch from 'picomatch';
import { UsageError } from '../errors.js';
import { parseSelector, type GitRange, type Selector } from './filter-parse.js';
import type { PackageGraph } from './package-graph.js';

export interface FilterContext {
  graph: PackageGraph;
  /** The repository root (where velocity.yml is): directories are relative to it. */
  root: string;
  /** Names of the packages with changed files in a git range (asked once per distinct range). */
  changedPackages: (range: GitRange) => Promise<ReadonlySet<string>>;
  directoryExists: (absolute: string) => boolean;
  warn: (message: string) => void;
}

/** Names as turborepo matches them: `*` is any run of characters, `/` included; the rest is literal. */
export function nameMatcher(pattern: string): (name: string) => boolean {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const source = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  const re = new RegExp(`^${source}$`, 's');
  return (name) => re.test(name);
}

const isGlob = (dir: string): boolean => /[*?[\]()]/.test(dir);

function directoryMatcher(sel: Selector, dir: string, ctx: FilterContext): (relDir: string) => boolean {
  if (isGlob(dir)) return picomatch(dir, { dot: true });
  const absolute = join(ctx.root, dir);
  // As turborepo: a folder that is not there is a mistake; one with no package is an empty set.
  if (!ctx.directoryExists(absolute)) throw new UsageError(`--filter "${sel.raw}": directory '${absolute}' does not exist`);
  return (relDir) => relDir === dir;
}

/** The packages a selector names before `...` widens it. */
async function entryPackages(sel: Selector, ctx: FilterContext, changed: (r: GitRange) => Promise<ReadonlySet<string>>): Promise<string[]> {
  let entries = ctx.graph.packages;
  if (sel.name !== undefined) {
    const name = sel.name;
    const matches = nameMatcher(name);
    entries = entries.filter((p) => matches(p.name));
    if (!name.includes('*') && entries.length === 0) {
      throw new UsageError(`--filter "${sel.raw}": no package found with name '${name}' in workspace`);
    }
  }
  if (sel.directory !== undefined) {
    const matches = directoryMatcher(sel, sel.directory, ctx);
    entries = entries.filter((p) => matches(p.relDir));
  }
  if (entries.length === 0 && (sel.name !== undefined || sel.directory !== undefined)) {
    ctx.warn(`--filter "${sel.raw}": no package matches`);
  }
  let names = entries.map((p) => p.name);
  if (sel.gitRange !== undefined) {
    const changedNow = await changed(sel.gitRange);
    names = sel.matchDependencies
      ? names.filter((n) => changedNow.has(n) || [...ctx.graph.dependenciesOf(n)].some((d) => changedNow.has(d)))
      : names.filter((n) => changedNow.has(n));
  }
  return names;
}

/** What one selector selects: its entry packages, widened by `...` and narrowed by `^`. */
async function select(sel: Selector, ctx: FilterContext, changed: (r: GitRange) => Promise<ReadonlySet<string>>): Promise<Set<string>> {
  const entries = await entryPackages(sel, ctx, changed);
  const out = new Set<string>(sel.excludeSelf ? [] : entries);
  const addAll = (names: Iterable<string>): void => {
    for (const n of names) out.add(n);
  };
  for (const entry of entries) {
    if (sel.includeDependencies) addAll(ctx.graph.dependenciesOf(entry));
    if (sel.includeDependents) {
      for (const dependent of ctx.graph.dependentsOf(entry)) {
        out.add(dependent);
        // `...pkg...`: the dependents' own dependencies too, so they can build.
        if (sel.includeDependencies) addAll(ctx.graph.dependenciesOf(dependent));
      }
    }
  }
  return out;
}

/**
 * The package names several `--filter` selectors select: the union of the including ones (every
 * package when there are none), minus what the `!` ones select. Every selector is parsed before
 * any is resolved, so a typo is reported before git is asked anything.
 */
export async function resolveFilters(raws: readonly string[], ctx: FilterContext): Promise<Set<string>> {
  const selectors = raws.map(parseSelector);
  const ranges = new Map<string, Promise<ReadonlySet<string>>>();
  const changed = (r: GitRange): Promise<ReadonlySet<string>> => {
    const id = `${r.from}\u0000${r.to ?? ''}`;
    let p = ranges.get(id);
    if (!p) {
      p = ctx.changedPackages(r);
      ranges.set(id, p);
    }
    return p;
  };
  const including = selectors.filter((s) => !s.exclude);
  const selected = new Set<string>(including.length === 0 ? ctx.graph.names : []);
  for (const sel of including) for (const n of await select(sel, ctx, changed)) selected.add(n);
  for (const sel of selectors.filter((s) => s.exclude)) for (const n of await select(sel, ctx, changed)) selected.delete(n);
  return selected;
}
