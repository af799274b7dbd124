import type { WorkspacePackage } from './discover.js';

/** The workspace's dependency edges both ways, for walks from a set of packages. */
export class PackageGraph {
  readonly packages: readonly WorkspacePackage[];
  readonly #dependencies = new Map<string, readonly string[]>();
  readonly #dependents = new Map<string, string[]>();

  constructor(packages: readonly WorkspacePackage[]) {
    this.packages = packages;
    for (const p of packages) {
      this.#dependencies.set(p.name, p.dependencies);
      if (!this.#dependents.has(p.name)) this.#dependents.set(p.name, []);
      for (const d of p.dependencies) {
        const list = this.#dependents.get(d) ?? [];
        list.push(p.name);
        this.#dependents.set(d, list);
      }
    }
  }

  get names(): string[] {
    return this.packages.map((p) => p.name);
  }

  /** Every package `name` depends on, directly or not (never `name` itself, unless in a cycle). */
  dependenciesOf(name: string): Set<string> {
    return this.#walk(name, this.#dependencies);
  }

  /** Every package that depends on `name`, directly or not. */
  dependentsOf(name: string): Set<string> {
    return this.#walk(name, this.#dependents);
  }

  #walk(start: string, edges: ReadonlyMap<string, readonly string[]>): Set<string> {
    const seen = new Set<string>();
    const stack = [...(edges.get(start) ?? [])];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(edges.get(next) ?? []));
    }
    return seen;
  }
}
