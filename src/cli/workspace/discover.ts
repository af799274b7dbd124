import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { globSync } from 'tinyglobby';
import { ProjectConfigError } from '../errors.js';

export interface WorkspacePackage {
  name: string;
  /** Absolute directory. */
  dir: string;
  /** Directory relative to the repository root, POSIX separators ("." for the root). */
  relDir: string;
  /** Names of workspace packages this one depends on (dependencies, devDependencies, peerDependencies). */
  dependencies: string[];
}

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies'] as const;

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    // Manifests are small and read once each, a hundred at a time: a synchronous read costs
    // microseconds, an async one three thread-pool round trips.
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ProjectConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ProjectConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** `packages:` from velocity.yml, else the root package.json workspaces, else pnpm-workspace.yaml. */
export async function workspaceGlobs(root: string, configured: readonly string[] | undefined): Promise<string[]> {
  if (configured) return [...configured];
  const pkgFile = join(root, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = readJson(pkgFile);
    const ws = pkg.workspaces;
    const list = stringArray(ws) ?? stringArray((ws as { packages?: unknown } | undefined)?.packages);
    if (list) return list;
  }
  const pnpmFile = join(root, 'pnpm-workspace.yaml');
  if (existsSync(pnpmFile)) {
    // Loaded only for pnpm workspaces: most runs never need the YAML parser.
    const { parse: parseYaml } = await import('yaml');
    const doc = parseYaml(await readFile(pnpmFile, 'utf8')) as { packages?: unknown } | null;
    const list = stringArray(doc?.packages);
    if (list) return list;
    throw new ProjectConfigError(pnpmFile, ['packages: must be a list of globs']);
  }
  throw new ProjectConfigError(join(root, 'velocity.yml'), [
    'packages: not set, and neither package.json "workspaces" nor pnpm-workspace.yaml lists any',
  ]);
}

export async function discoverPackages(root: string, configured: readonly string[] | undefined): Promise<WorkspacePackage[]> {
  const globs = await workspaceGlobs(root, configured);
  const include = globs.filter((g) => !g.startsWith('!')).map((g) => posix.join(g.replace(/\/+$/, ''), 'package.json'));
  const exclude = globs.filter((g) => g.startsWith('!')).map((g) => posix.join(g.slice(1).replace(/\/+$/, ''), 'package.json'));
  // Synchronous, like the input walk: faster than a thread-pool round trip per folder.
  const manifests = globSync(include, { cwd: root, ignore: ['**/node_modules/**', ...exclude], expandDirectories: false }).sort();
  const raw = manifests.map((rel) => ({ rel, json: readJson(join(root, rel)) }));
  const byName = new Map<string, string>();
  const problems: string[] = [];
  const packages = raw.map(({ rel, json }) => {
    const relDir = posix.dirname(rel);
    const name = typeof json.name === 'string' && json.name !== '' ? json.name : relDir;
    const other = byName.get(name);
    if (other !== undefined) problems.push(`package name "${name}" is used by both ${other} and ${relDir}`);
    byName.set(name, relDir);
    const deps = new Set<string>();
    for (const field of DEPENDENCY_FIELDS) {
      const section = json[field];
      if (section && typeof section === 'object') for (const dep of Object.keys(section)) deps.add(dep);
    }
    return { name, dir: join(root, relDir), relDir, deps };
  });
  if (problems.length > 0) throw new ProjectConfigError(join(root, 'package.json'), problems);
  return packages.map(({ deps, ...p }) => ({
    ...p,
    dependencies: [...deps].filter((d) => byName.has(d) && d !== p.name).sort(),
  }));
}
