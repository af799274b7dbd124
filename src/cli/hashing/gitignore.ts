import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Never inputs, whatever .gitignore says: VCS data, installed packages, our own cache. */
export const ALWAYS_IGNORED = ['**/.git/**', '**/node_modules/**', '**/.velocity/**'];

/**
 * Answers "does git ignore this path?" for paths relative to the repository root, reading the
 * root .gitignore and every nested one on the way down (deeper files win, `!` re-includes).
 */
export class GitIgnoreMatcher {
  readonly #root: string;
  readonly #byDir = new Map<string, Promise<Ignore | null>>();

  constructor(root: string) {
    this.#root = root;
  }

  #load(dir: string): Promise<Ignore | null> {
    let p = this.#byDir.get(dir);
    if (!p) {
      const file = posix.join(this.#root, dir, '.gitignore');
      // Most folders have none: a cached stat on this thread is far cheaper than a failed
      // read through the thread pool, once per folder of every package.
      p = existsSync(file)
        ? readFile(file, 'utf8').then(
            (text) => ignore().add(text),
            () => null,
          )
        : Promise.resolve(null);
      this.#byDir.set(dir, p);
    }
    return p;
  }

  /** `relPath`: POSIX path relative to the root, without `..`. */
  async ignores(relPath: string): Promise<boolean> {
    const parts = relPath.split('/');
    let ignored = false;
    for (let depth = 0; depth < parts.length; depth++) {
      const dir = parts.slice(0, depth).join('/');
      const ig = await this.#load(dir);
      if (!ig) continue;
      const result = ig.test(parts.slice(depth).join('/'));
      if (result.ignored) ignored = true;
      else if (result.unignored) ignored = false;
    }
    return ignored;
  }
}
