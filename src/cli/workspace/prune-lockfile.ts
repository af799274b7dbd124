import { posix } from 'node:path';
import { UsageError } from '../errors.js';

/** One entry of a lockfile's `packages` section: the fields the walk reads; the rest is kept as is. */
interface LockEntry {
  link?: unknown;
  resolved?: unknown;
  dependencies?: unknown;
  devDependencies?: unknown;
  optionalDependencies?: unknown;
  peerDependencies?: unknown;
}

export interface PrunedLockfile {
  /** The pruned lockfile as text, in the original's indentation and line endings. */
  text: string;
  /** Keys of `packages` kept and dropped, in the original's order. */
  kept: string[];
  dropped: string[];
  /**
   * Folders inside the repository that kept entries link to (`"link": true`): the workspace
   * packages npm resolves them to, and any other local package (`file:` dependencies). The
   * output needs each of them for `npm ci` to install.
   */
  linked: Set<string>;
}

const DEPENDENCY_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies', 'devDependencies'] as const;

function names(section: unknown): string[] {
  return section !== null && typeof section === 'object' && !Array.isArray(section) ? Object.keys(section) : [];
}

/**
 * Where Node finds `name` required from the folder `from` (a lockfile key): `from/node_modules/name`,
 * then the same in every parent folder that is not itself a `node_modules` folder, up to the root.
 * Lockfile keys are those folders relative to the root, so this is the resolution npm laid out.
 */
export function resolveFrom(packages: Readonly<Record<string, unknown>>, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    if (posix.basename(dir) !== 'node_modules') {
      const key = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
      if (Object.hasOwn(packages, key)) return key;
    }
    if (dir === '') return undefined;
    const slash = dir.lastIndexOf('/');
    dir = slash < 0 ? '' : dir.slice(0, slash);
  }
}

/** A `resolved` of a link entry: a folder relative to the root that stays inside it, or an error. */
function linkTarget(file: string, key: string, resolved: unknown): string {
  if (typeof resolved !== 'string' || resolved === '') throw new UsageError(`${file}: "${key}" is a link without a "resolved" folder: run npm install to repair the lockfile`);
  const target = posix.normalize(resolved.replace(/\\/g, '/'));
  if (posix.isAbsolute(target) || /^[A-Za-z]:/.test(target) || target === '..' || target.startsWith('../')) {
    throw new UsageError(`${file}: "${key}" links to ${resolved}, outside the repository: velocity prune copies only what is inside it`);
  }
  return target;
}

function parse(text: string, file: string): { doc: Record<string, unknown>; packages: Record<string, LockEntry> } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: not a lockfile (not a JSON object)`);
  const record = doc as Record<string, unknown>;
  const version = record.lockfileVersion;
  const packages = record.packages;
  if (version === 1 || version === undefined || packages === undefined) {
    throw new UsageError(`${file}: lockfileVersion ${JSON.stringify(version ?? 1)} has no "packages" section (npm 6): run npm install with npm 7 or later to upgrade it`);
  }
  if (version !== 2 && version !== 3) throw new UsageError(`${file}: lockfileVersion ${JSON.stringify(version)} is not one velocity prune knows (2 or 3)`);
  if (packages === null || typeof packages !== 'object' || Array.isArray(packages)) throw new UsageError(`${file}: "packages" must be an object`);
  for (const [key, entry] of Object.entries(packages)) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new UsageError(`${file}: packages["${key}"] must be an object`);
  }
  return { doc: record, packages: packages as Record<string, LockEntry> };
}

/** lockfileVersion 2 also carries npm 6's nested `dependencies` tree: drop what was dropped there too. */
function pruneLegacyTree(tree: unknown, prefix: string, dropped: ReadonlySet<string>): unknown {
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) return tree;
  const out: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(tree as Record<string, unknown>)) {
    const key = `${prefix}node_modules/${name}`;
    if (dropped.has(key)) continue;
    if (entry !== null && typeof entry === 'object' && !Array.isArray(entry) && 'dependencies' in entry) {
      out[name] = { ...entry, dependencies: pruneLegacyTree(entry.dependencies, `${key}/`, dropped) };
    } else {
      out[name] = entry;
    }
  }
  return out;
}

function layoutOf(text: string): { indent: string; eol: string } {
  const indent = /^\{\r?\n([ \t]+)"/.exec(text)?.[1] ?? '  ';
  return { indent, eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/**
 * Keeps the entries of an npm lockfile (v2 or v3) that the root and `workspaceDirs` need: what
 * each one's dependencies resolve to as Node would find them, transitively, through nested
 * `node_modules` entries and `link: true` entries (followed to the folder they link to, whose
 * own dependencies resolve from there). Entries are copied unchanged, so the result differs from
 * the original only by the entries dropped; npm ci installs it as the full lockfile would have
 * installed those packages. A link leaving the repository is refused.
 */
export function pruneNpmLockfile(text: string, file: string, workspaceDirs: readonly string[]): PrunedLockfile {
  const { doc, packages } = parse(text, file);
  for (const dir of ['', ...workspaceDirs]) {
    if (!Object.hasOwn(packages, dir)) {
      throw new UsageError(`${file} has no entry for the ${dir === '' ? 'root package' : `workspace package in ${dir}`}: run npm install to bring it up to date`);
    }
  }
  const keep = new Set<string>();
  const linked = new Set<string>();
  const stack = ['', ...workspaceDirs];
  // npm links every workspace into the root's node_modules (`node_modules/<name>`, `link: true`),
  // whether anything depends on it or not: a kept workspace keeps its link.
  const wanted = new Set(workspaceDirs);
  for (const [key, entry] of Object.entries(packages)) {
    if (entry.link === true && typeof entry.resolved === 'string' && wanted.has(posix.normalize(entry.resolved.replace(/\\/g, '/')))) stack.push(key);
  }
  while (stack.length > 0) {
    const key = stack.pop() as string;
    if (keep.has(key)) continue;
    keep.add(key);
    const entry: LockEntry = packages[key] ?? {};
    if (entry.link === true) {
      const target = linkTarget(file, key, entry.resolved);
      linked.add(target);
      // A link's own entry lists no dependencies: they belong to the folder it links to.
      if (Object.hasOwn(packages, target)) stack.push(target);
      continue;
    }
    for (const field of DEPENDENCY_FIELDS) {
      for (const name of names(entry[field])) {
        // Not found: an optional or peer dependency npm did not install; nothing to keep.
        const found = resolveFrom(packages, key, name);
        if (found !== undefined) stack.push(found);
      }
    }
  }
  const kept = Object.keys(packages).filter((k) => keep.has(k));
  const dropped = Object.keys(packages).filter((k) => !keep.has(k));
  const droppedSet = new Set(dropped);
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(doc)) {
    if (field === 'packages') out.packages = Object.fromEntries(kept.map((k) => [k, packages[k]]));
    else if (field === 'dependencies' && doc.lockfileVersion === 2) out.dependencies = pruneLegacyTree(value, '', droppedSet);
    else out[field] = value;
  }
  const { indent, eol } = layoutOf(text);
  const body = JSON.stringify(out, null, indent);
  return { text: `${eol === '\n' ? body : body.replace(/\n/g, eol)}${eol}`, kept, dropped, linked };
}
