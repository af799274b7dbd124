import { posix } from 'node:path';
import { globSync } from 'tinyglobby';
import type { GitIgnoreMatcher } from './gitignore.js';
import { ALWAYS_IGNORED } from './gitignore.js';

/** `build/` means the folder and everything in it. */
export function normalizeOutputGlob(pattern: string): string {
  return pattern.endsWith('/') ? `${pattern}**` : pattern;
}

export interface InputSpec {
  pkgDir: string;
  /** The package directory relative to the repository root (POSIX). */
  relDir: string;
  /** The task's `inputs`, or undefined for "every file of the package". */
  inputs: readonly string[] | undefined;
  /** Output globs of the pipeline's tasks: never inputs. */
  outputs: readonly string[];
}

/**
 * Expands a task's inputs to sorted POSIX paths relative to the package. Files git ignores are
 * left out, so the key depends on the tree, not on what happens to lie around in the checkout.
 */
export async function expandInputs(spec: InputSpec, gitignore: GitIgnoreMatcher): Promise<string[]> {
  const patterns = spec.inputs ?? ['**'];
  const positive = patterns.filter((p) => !p.startsWith('!'));
  const negative = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  // Outputs are never inputs: their content is covered by the key of the task producing them
  // (through dependency keys), and hashing them would make a key depend on what ran before.
  negative.push(...spec.outputs.map(normalizeOutputGlob));
  // Synchronous on purpose: the same walk without a thread-pool round trip per folder is two to
  // three times faster, and nothing else needs the event loop while keys are computed.
  const files = globSync(positive, {
    cwd: spec.pkgDir,
    dot: true,
    onlyFiles: true,
    followSymbolicLinks: false,
    expandDirectories: false,
    ignore: [...ALWAYS_IGNORED, ...negative],
  });
  const kept: string[] = [];
  await Promise.all(
    files.map(async (file) => {
      const fromRoot = posix.normalize(posix.join(spec.relDir, file));
      if (fromRoot.startsWith('../') || !(await gitignore.ignores(fromRoot))) kept.push(file);
    }),
  );
  return kept.sort();
}
