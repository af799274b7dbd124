import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SweepFacet, SweepOptions, SweepReport } from '../driver.js';
import { UPLOADS_PREFIX, parseUploadKey } from '../object-keys.js';
import type { LocalFiles } from './local-files.js';

interface Age {
  /** Newest change time of the entry and its direct children (epoch ms). */
  readonly touched: number;
  readonly bytes: number;
}

/**
 * What interrupted writes leave on local disk: staging folders and files under tmp/ (a write cut
 * short by a crash), and multipart upload folders nobody completed or aborted. An entry counts as
 * abandoned only when neither it nor anything directly in it changed since `olderThan`: ctime is
 * taken too, because a complete claims its upload by renaming it into tmp/ (which moves ctime,
 * not mtime), and parts arriving rename into the upload folder.
 */
export class LocalSweeper implements SweepFacet {
  constructor(private readonly files: LocalFiles) {}

  async sweep(opts: SweepOptions): Promise<SweepReport> {
    let temporary = 0;
    let uploads = 0;
    let freedBytes = 0;
    const tmp = join(this.files.root, 'tmp');
    for (const name of await names(tmp)) {
      const age = await ageOf(join(tmp, name));
      if (!age || age.touched >= opts.olderThan) continue;
      temporary++;
      freedBytes += age.bytes;
      if (!opts.dryRun) await this.files.discard(join(tmp, name));
    }
    for (const dir of await this.uploadFolders()) {
      const age = await ageOf(join(this.files.root, dir));
      if (!age || age.touched >= opts.olderThan) continue;
      uploads++;
      freedBytes += age.bytes;
      if (!opts.dryRun) await rm(join(this.files.root, dir), { recursive: true, force: true });
    }
    return { uploads, orphans: 0, temporary, freedBytes };
  }

  /** `uploads/<space>/<ns>/<hash>/<uploadId>` folders, each parsed back through the key builder. */
  private async uploadFolders(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (rel: string, depth: number): Promise<void> => {
      for (const name of await names(join(this.files.root, rel))) {
        const child = `${rel}/${name}`;
        if (depth < 3) await walk(child, depth + 1);
        else if (parseUploadKey(child)?.kind === 'upload') out.push(child);
      }
    };
    await walk(UPLOADS_PREFIX.slice(0, -1), 0);
    return out;
  }
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

async function ageOf(path: string): Promise<Age | undefined> {
  try {
    const st = await lstat(path);
    let touched = Math.max(st.mtimeMs, st.ctimeMs);
    let bytes = st.isFile() ? st.size : 0;
    if (st.isDirectory()) {
      for (const name of await names(path)) {
        const c = await lstat(join(path, name)).catch(() => undefined);
        if (!c) continue;
        touched = Math.max(touched, c.mtimeMs, c.ctimeMs);
        if (c.isFile()) bytes += c.size;
      }
    }
    return { touched, bytes };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
