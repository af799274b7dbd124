import { randomBytes } from 'node:crypto';
import { existsSync, writeFile as writeFileCb } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { isAbsolute, join, resolve } from 'node:path';

// Callback API: cheaper than fs/promises' FileHandle for a hundred small files in a row.
const writeFile = promisify(writeFileCb);

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
  readonly #id = randomBytes(8).toString('hex');
  #count = 0;

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
    // Unique across processes (a random id per cache object) and within one (a counter):
    // one random id per archive costs more than it is worth on a run of a hundred hits.
    return join(this.dir, `.tmp-${this.#id}-${++this.#count}`);
  }

  async commit(temp: string, key: string): Promise<string> {
    const target = this.pathOf(key);
    await rename(temp, target);
    return target;
  }

  /** Stores verified bytes under `key` (atomically, like every entry). */
  async store(key: string, bytes: Buffer): Promise<void> {
    const temp = await this.tempFile();
    try {
      await writeFile(temp, bytes);
    } catch (err) {
      await this.discard(temp);
      throw err;
    }
    await this.commit(temp, key);
  }

  async discard(pathOrKey: string): Promise<void> {
    const file = pathOrKey.includes('/') || pathOrKey.includes('\\') ? pathOrKey : this.pathOf(pathOrKey);
    await rm(file, { force: true });
  }
}
