import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

/** Where archives live: `VELOCITY_CACHE_DIR` (relative to the repository root) or `.velocity/cache`. */
export function localCacheDir(root: string, env: Readonly<Record<string, string | undefined>>): string {
  const dir = env.VELOCITY_CACHE_DIR;
  if (dir === undefined || dir === '') return join(root, '.velocity', 'cache');
  return isAbsolute(dir) ? dir : resolve(root, dir);
}

/**
 * One archive per key, `<key>.tar.gz`. Entries appear atomically (written to a temporary name in
 * the same folder, then renamed), so a crash or a concurrent run never leaves half an archive.
 */
export class LocalCache {
  readonly dir: string;
  #ready: Promise<unknown> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  pathOf(key: string): string {
    return join(this.dir, `${key}.tar.gz`);
  }

  has(key: string): boolean {
    return existsSync(this.pathOf(key));
  }

  async tempFile(): Promise<string> {
    this.#ready ??= mkdir(this.dir, { recursive: true });
    await this.#ready;
    return join(this.dir, `.tmp-${randomUUID()}`);
  }

  async commit(temp: string, key: string): Promise<string> {
    const target = this.pathOf(key);
    await rename(temp, target);
    return target;
  }

  async discard(pathOrKey: string): Promise<void> {
    const file = pathOrKey.includes('/') || pathOrKey.includes('\\') ? pathOrKey : this.pathOf(pathOrKey);
    await rm(file, { force: true });
  }
}
