import { existsSync } from 'node:fs';
import { ScmError } from '../errors.js';
import { affectedRange } from '../scm/affected.js';
import { Git, gitRunner } from '../scm/git.js';
import { packagesOfFiles } from './changed-packages.js';
import type { WorkspacePackage } from './discover.js';
import type { GitRange } from './filter-parse.js';
import { resolveFilters } from './filter-resolve.js';
import { PackageGraph } from './package-graph.js';

export interface ScopeOptions {
  /** `--filter` selectors (filter-parse.ts). */
  filters?: readonly string[] | undefined;
  /** `--affected`: changed packages and their dependents. */
  affected?: boolean | undefined;
}

export interface ScopeDeps {
  root: string;
  env: Readonly<Record<string, string | undefined>>;
  warn: (message: string) => void;
  /** Where git is asked (a test may hand in its own). */
  git?: Git | undefined;
}

/**
 * The packages whose tasks a command runs: every package (`undefined`) unless `--filter` or
 * `--affected` narrows it. Both together: the packages both select, as turborepo does.
 */
export async function packageScope(packages: readonly WorkspacePackage[], opts: ScopeOptions, deps: ScopeDeps): Promise<Set<string> | undefined> {
  const filters = opts.filters ?? [];
  if (filters.length === 0 && opts.affected !== true) return undefined;
  const graph = new PackageGraph(packages);
  let git: Git | undefined = deps.git;
  const gitHere = (): Git => (git ??= new Git(gitRunner(deps.root, deps.env)));
  const changedPackages = async (range: GitRange): Promise<Set<string>> => packagesOfFiles(await gitHere().changedFiles(range), packages);

  let scope: Set<string> | undefined;
  if (filters.length > 0) {
    scope = await resolveFilters(filters, { graph, root: deps.root, changedPackages, directoryExists: existsSync, warn: deps.warn });
  }
  if (opts.affected === true) {
    const affected = await affectedPackages(graph, gitHere(), changedPackages, deps);
    scope = scope === undefined ? affected : new Set([...scope].filter((n) => affected.has(n)));
  }
  return scope;
}

/**
 * Changed packages and everything that depends on them. When git cannot say (not a repository,
 * no base branch, a shallow clone without the merge base), every package: running too much is
 * safe, running too little is not.
 */
async function affectedPackages(
  graph: PackageGraph,
  git: Git,
  changedPackages: (range: GitRange) => Promise<Set<string>>,
  deps: ScopeDeps,
): Promise<Set<string>> {
  const everything = (why: string): Set<string> => {
    deps.warn(`--affected: ${why}; running every package`);
    return new Set(graph.names);
  };
  try {
    const found = await affectedRange(git, deps.env);
    if (found.range === null) return everything(found.reason);
    const changed = await changedPackages(found.range);
    const out = new Set(changed);
    for (const name of changed) for (const d of graph.dependentsOf(name)) out.add(d);
    return out;
  } catch (err) {
    if (err instanceof ScmError) return everything(err.message);
    throw err;
  }
}
