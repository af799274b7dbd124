import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { TaskGraph, TaskNode } from '../graph/task-graph.js';
import type { FileHasher } from './file-hash.js';
import type { GitIgnoreMatcher } from './gitignore.js';
import type { EnvMode } from '../run/task-env.js';
import { expandInputs } from './input-files.js';

/**
 * Part of every key: bump it when what goes into a key (or the archive layout) changes.
 * /2: tasks see only the environment their key covers (env modes); results made when they saw
 * everything must not be replayed as if they had not.
 */
export const KEY_FORMAT = 'velocity-task-key/2';

export const LOCKFILES = [
  'package-lock.json',
  'npm-shrinkwrap.json',
  'pnpm-lock.yaml',
  'yarn.lock',
  'bun.lock',
  'bun.lockb',
] as const;

/** Everything that went into a key, in the canonical order it is hashed in. */
export interface KeyMaterial {
  format: string;
  package: string;
  dir: string;
  task: string;
  command: string;
  outputs: string[];
  /** What the command could see: strict (only what enters this key) or loose (everything). */
  envMode: EnvMode;
  /** [name, SHA-256 of the value] (null when unset); values themselves never leave the machine. */
  env: Array<[string, string | null]>;
  /** [path relative to the package, SHA-256 of the content], sorted by path. */
  files: Array<[string, string]>;
  /** [root lockfile name, SHA-256], sorted by name. */
  lockfiles: Array<[string, string]>;
  /** [task id, key] of the tasks this one depends on, sorted by id. */
  deps: Array<[string, string]>;
}

export interface TaskKey {
  key: string;
  material: KeyMaterial;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export async function rootLockfiles(root: string, hasher: FileHasher): Promise<Array<[string, string]>> {
  const found = LOCKFILES.filter((name) => existsSync(join(root, name)));
  return Promise.all(found.map(async (name): Promise<[string, string]> => [name, await hasher.hash(join(root, name))]));
}

export interface KeyContext {
  root: string;
  env: Readonly<Record<string, string | undefined>>;
  envMode: EnvMode;
  hasher: FileHasher;
  gitignore: GitIgnoreMatcher;
  lockfiles: Array<[string, string]>;
  /** Output globs of every pipeline task, per package (never default inputs). */
  outputsOf: (node: TaskNode) => string[];
}

export function keyOf(material: KeyMaterial): string {
  // JSON of a fixed-shape object with sorted arrays: canonical, and free of absolute paths.
  return sha256(JSON.stringify(material));
}

/** Everything but the dependency keys: independent of other tasks, so computed all in parallel. */
async function ownMaterial(node: TaskNode, ctx: KeyContext): Promise<Omit<KeyMaterial, 'deps'>> {
  const files = await expandInputs(
    { pkgDir: node.pkg.dir, relDir: node.pkg.relDir, inputs: node.config.inputs, outputs: ctx.outputsOf(node) },
    ctx.gitignore,
  );
  const hashed = await Promise.all(
    files.map(async (f): Promise<[string, string]> => [f, await ctx.hasher.hash(join(node.pkg.dir, ...f.split(posix.sep)))]),
  );
  return {
    format: KEY_FORMAT,
    package: node.pkg.name,
    dir: node.pkg.relDir,
    task: node.task,
    command: node.config.command,
    outputs: [...node.config.outputs],
    envMode: ctx.envMode,
    env: [...node.config.env].sort().map((name): [string, string | null] => {
      const v = ctx.env[name];
      return [name, v === undefined ? null : sha256(v)];
    }),
    files: hashed,
    lockfiles: ctx.lockfiles,
  };
}

/** Keys for the whole graph: inputs hashed in parallel, then keys chained in dependency order. */
export async function computeGraphKeys(graph: TaskGraph, ctx: KeyContext): Promise<Map<string, TaskKey>> {
  const own = await Promise.all(graph.order.map((id) => ownMaterial(graph.nodes.get(id) as TaskNode, ctx)));
  const out = new Map<string, TaskKey>();
  graph.order.forEach((id, i) => {
    const node = graph.nodes.get(id) as TaskNode;
    const material: KeyMaterial = {
      ...(own[i] as Omit<KeyMaterial, 'deps'>),
      deps: node.deps.map((d): [string, string] => [d, (out.get(d) as TaskKey).key]),
    };
    out.set(id, { key: keyOf(material), material });
  });
  return out;
}
