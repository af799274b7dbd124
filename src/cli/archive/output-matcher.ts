import picomatch from 'picomatch';
import { normalizeOutputGlob } from '../hashing/input-files.js';

/** Never outputs, whatever the globs say: the packer skips them, so a restore refuses them. */
export const OUTPUT_IGNORES = ['**/node_modules/**', '**/.git/**'] as const;

/**
 * `true` when `rel` (POSIX, relative to the package) is one of the task's declared outputs, with
 * the glob semantics expandOutputs() archives with: `!glob` excludes, `build/` is the folder and
 * everything in it, dot files count, node_modules/ and .git/ never do.
 */
export function outputMatcher(outputs: readonly string[]): (rel: string) => boolean {
  const positive = outputs.filter((p) => !p.startsWith('!')).map(normalizeOutputGlob);
  if (positive.length === 0) return () => false;
  const negative = outputs.filter((p) => p.startsWith('!')).map((p) => normalizeOutputGlob(p.slice(1)));
  return picomatch(positive, { dot: true, ignore: [...OUTPUT_IGNORES, ...negative] });
}
