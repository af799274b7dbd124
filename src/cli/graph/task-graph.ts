import type { TaskConfig } from '../config/schema.js';
import { TaskCycleError, UsageError } from '../errors.js';
import type { WorkspacePackage } from '../workspace/discover.js';

export interface TaskNode {
  /** `package#task`, unique in the graph. */
  id: string;
  pkg: WorkspacePackage;
  task: string;
  config: TaskConfig;
  /** Ids of the tasks this one waits for, sorted. */
  deps: string[];
}

export interface TaskGraph {
  nodes: Map<string, TaskNode>;
  /** Every task after all of its dependencies. */
  order: string[];
}

export const taskId = (pkg: string, task: string): string => `${pkg}#${task}`;

export interface BuildGraphOptions {
  packages: readonly WorkspacePackage[];
  pipeline: Readonly<Record<string, TaskConfig>>;
  tasks: readonly string[];
  /**
   * Restrict the requested tasks to these package names (their dependencies still run); an empty
   * list selects nothing, `undefined` every package.
   */
  filter?: readonly string[] | undefined;
}

export function buildTaskGraph(opts: BuildGraphOptions): TaskGraph {
  const byName = new Map(opts.packages.map((p) => [p.name, p]));
  const unknown = opts.tasks.filter((t) => !(t in opts.pipeline));
  if (unknown.length > 0) {
    const known = Object.keys(opts.pipeline).sort().join(', ');
    throw new UsageError(`unknown task${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `"${t}"`).join(', ')} (velocity.yml defines: ${known})`);
  }
  let roots = opts.packages;
  if (opts.filter) {
    const missing = opts.filter.filter((f) => !byName.has(f));
    if (missing.length > 0) throw new UsageError(`--filter: no workspace package named ${missing.map((m) => `"${m}"`).join(', ')}`);
    roots = opts.packages.filter((p) => opts.filter?.includes(p.name));
  }

  const nodes = new Map<string, TaskNode>();
  const pending: Array<[WorkspacePackage, string]> = [];
  for (const pkg of roots) for (const task of opts.tasks) pending.push([pkg, task]);
  while (pending.length > 0) {
    const [pkg, task] = pending.pop() as [WorkspacePackage, string];
    const id = taskId(pkg.name, task);
    if (nodes.has(id)) continue;
    const config = opts.pipeline[task] as TaskConfig;
    const deps = new Set<string>();
    for (const dep of config.depends_on) {
      if (dep.startsWith('^')) {
        const name = dep.slice(1);
        for (const depPkgName of pkg.dependencies) {
          const depPkg = byName.get(depPkgName);
          if (!depPkg) continue;
          deps.add(taskId(depPkg.name, name));
          pending.push([depPkg, name]);
        }
      } else {
        deps.add(taskId(pkg.name, dep));
        pending.push([pkg, dep]);
      }
    }
    nodes.set(id, { id, pkg, task, config, deps: [...deps].sort() });
  }
  return { nodes, order: topologicalOrder(nodes) };
}

/** Depth-first order; throws TaskCycleError naming the first cycle found. */
export function topologicalOrder(nodes: ReadonlyMap<string, { deps: readonly string[] }>): string[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const stack: string[] = [];
  const visit = (id: string): void => {
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') {
      const start = stack.indexOf(id);
      throw new TaskCycleError([...stack.slice(start), id]);
    }
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of nodes.get(id)?.deps ?? []) visit(dep);
    stack.pop();
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of [...nodes.keys()].sort()) visit(id);
  return order;
}
