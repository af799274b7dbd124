import { readFile, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactInfo, ArtifactRef, ListPage, ListQuery, ListedArtifact } from '../driver.js';
import { artifactKey, listPrefix, parseArtifactKey } from '../object-keys.js';
import type { LocalFiles } from './local-files.js';

const DEFAULT_LIMIT = 1000;

/**
 * Listing and deleting published artifacts on local disk. A listing walks
 * `<root>/<space>/<namespace>/<hash>/` in key order (the same byte order S3 lists in) and reads
 * each artifact's meta.json for its size and creation time. Every name found on disk is parsed
 * back into a ref (`parseArtifactKey`): a folder that is not exactly one the key builder makes is
 * skipped, never acted on.
 */
export class LocalListing {
  constructor(private readonly files: LocalFiles) {}

  async list(query: ListQuery): Promise<ListPage> {
    const limit = Math.max(1, Math.min(query.limit ?? DEFAULT_LIMIT, 10_000));
    const prefix = listPrefix(query.space, query.namespace, query.prefix);
    const namespaces = query.namespace === undefined ? await this.dir(join(this.files.root, query.space)) : [query.namespace];
    const items: ListedArtifact[] = [];
    for (const ns of namespaces) {
      const nsKey = `${query.space}/${ns}/`;
      // Whole namespaces before the cursor are skipped without reading them.
      if (query.cursor !== undefined && nsKey < query.cursor && !query.cursor.startsWith(nsKey)) continue;
      for (const hash of await this.dir(join(this.files.root, query.space, ns))) {
        const key = `${nsKey}${hash}`;
        if (!key.startsWith(prefix) || (query.cursor !== undefined && key <= query.cursor)) continue;
        const ref = parseArtifactKey(key);
        if (!ref) continue;
        const info = await this.readInfo(ref);
        // Gone since the readdir (deleted, or a folder without meta.json that is not published).
        if (!info) continue;
        items.push({ ref, size: info.size, createdAt: Date.parse(info.createdAt) });
        if (items.length === limit) return { items, cursor: key };
      }
    }
    return { items };
  }

  private async dir(path: string): Promise<string[]> {
    try {
      return (await readdir(path)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.files.disk.toStorageError(`list ${path}`, err);
    }
  }

  private async readInfo(ref: ArtifactRef): Promise<ArtifactInfo | null> {
    try {
      return JSON.parse(await readFile(join(this.files.artifactDir(ref), 'meta.json'), 'utf8')) as ArtifactInfo;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw this.files.disk.toStorageError(`list ${artifactKey(ref)}`, err);
    }
  }

  /**
   * One rename(2) takes the artifact out of sight (a reader either opened it before, and keeps
   * its bytes, or finds nothing), then the folder is removed at leisure.
   */
  async delete(refs: readonly ArtifactRef[]): Promise<void> {
    for (const ref of refs) {
      const gone = this.files.tmpPath();
      try {
        await rename(this.files.artifactDir(ref), gone);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw this.files.disk.toStorageError(`delete ${artifactKey(ref)}`, err);
      }
      await this.files.discard(gone);
    }
  }
}
