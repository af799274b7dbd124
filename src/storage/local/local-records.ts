import { link, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { RecordKey, RecordKind, RecordsFacet } from '../driver.js';
import { RECORD_NAME_PATTERN, recordKey, recordPrefix } from '../object-keys.js';
import type { LocalFiles } from './local-files.js';

/**
 * Private documents on local disk (`<root>/system/<kind>/<name>`). `create` writes the whole
 * document under tmp/ and then link(2)s it into place: link fails when the name exists, so of two
 * creators exactly one wins, and no reader ever sees a half-written document.
 */
export class LocalRecords implements RecordsFacet {
  constructor(private readonly files: LocalFiles) {}

  async create(key: RecordKey, body: string): Promise<boolean> {
    const target = join(this.files.root, recordKey(key));
    const tmp = this.files.tmpPath();
    try {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(tmp, body);
      await link(tmp, target);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw this.files.disk.toStorageError(`record ${recordKey(key)}`, err);
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  async read(key: RecordKey): Promise<string | null> {
    try {
      return await readFile(join(this.files.root, recordKey(key)), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw this.files.disk.toStorageError(`record ${recordKey(key)}`, err);
    }
  }

  async list(kind: RecordKind): Promise<string[]> {
    try {
      return (await readdir(join(this.files.root, recordPrefix(kind)))).filter((n) => RECORD_NAME_PATTERN.test(n)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.files.disk.toStorageError(`records ${kind}`, err);
    }
  }

  async remove(keys: readonly RecordKey[]): Promise<void> {
    for (const key of keys) await rm(join(this.files.root, recordKey(key)), { force: true });
  }
}
