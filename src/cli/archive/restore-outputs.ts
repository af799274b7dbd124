import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArtifactIntegrityError } from '../errors.js';
import type { PlannedFile, RestorePlan } from './restore-plan.js';

// The callback API, promisified: fs/promises wraps every file in a FileHandle and costs about
// three times the CPU per small file, which a hit restoring hundreds of files feels.
const writeFile = promisify(fs.writeFile);
const mkdir = promisify(fs.mkdir);
const lstat = promisify(fs.lstat);
const unlink = promisify(fs.unlink);
const chmod = promisify(fs.chmod);
const link = promisify(fs.link);
const symlink = promisify(fs.symlink);
const open = promisify(fs.open);

/** Files written at once per archive: enough to keep the thread pool busy, bounded in open fds. */
export const FILE_CONCURRENCY = 32;

const fail = (message: string): never => {
  throw new ArtifactIntegrityError(message);
};

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

const lstatOrNull = (abs: string): Promise<fs.Stats | null> =>
  lstat(abs).catch((err: unknown) => (errCode(err) === 'ENOENT' ? null : Promise.reject(err as Error)));

const parentOf = (rel: string): string => {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
};

/** What checkDisk() found: folders to create, and files that are outputs and become folders. */
export interface DiskState {
  /** Folders that do not exist yet (or replace a file): only this restore can put things in them. */
  fresh: Set<string>;
  /** Output paths that are files on disk and folders in the archive. */
  replace: Set<string>;
}

/**
 * The other half of the validation, also before the first write: nothing already on disk may be
 * written through (a symlink where a folder is needed), and nothing that is not an output may be
 * replaced (a file where a folder is needed: `outputs/package.json/x` would have deleted
 * package.json). Existing folders are never replaced by a file.
 */
export async function checkDisk(cwd: string, plan: RestorePlan): Promise<DiskState> {
  const fresh = new Set<string>();
  const replace = new Set<string>();
  for (const level of plan.dirLevels) {
    await Promise.all(
      level.map(async (rel) => {
        const parent = parentOf(rel);
        if (parent !== '' && fresh.has(parent)) return void fresh.add(rel);
        const info = await lstatOrNull(join(cwd, rel));
        if (!info) fresh.add(rel);
        else if (info.isSymbolicLink()) fail(`archive writes through the symlink ${rel}`);
        else if (info.isDirectory()) return;
        else if (plan.outputDirs.has(rel)) {
          replace.add(rel);
          fresh.add(rel);
        } else fail(`archive would replace the file ${rel}, which is not an output, with a folder`);
      }),
    );
  }
  const leaves = [...plan.files.map((f) => f.rel), ...plan.hardLinks.map(([rel]) => rel), ...plan.symlinks.map(([rel]) => rel)];
  await Promise.all(
    leaves.map(async (rel) => {
      if (fresh.has(parentOf(rel))) return;
      const info = await lstatOrNull(join(cwd, rel));
      if (info?.isDirectory()) fail(`archive replaces the folder ${rel} with a file`);
    }),
  );
  return { fresh, replace };
}

/**
 * Creates `abs` with `create` (which must fail with EEXIST when anything is there), clearing the
 * way once when something is: a file or a link is replaced, a folder never is. O_EXCL-style
 * creation never follows a symlink found on disk, so nothing is written through one.
 */
async function createFresh<T>(abs: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if (errCode(err) !== 'EEXIST') throw err;
  }
  const info = await lstat(abs);
  if (info.isDirectory()) fail(`archive replaces the folder ${abs} with a file`);
  await unlink(abs);
  return create();
}

export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Writes one planned file from its bytes (in-memory restore) or its entry stream (streamed one). */
export type WriteFile = (file: PlannedFile, body: Buffer | Readable) => Promise<void>;

/**
 * Executes a validated plan into `cwd`: the disk is checked first, then folders are made
 * (parents first), files written by `writeFiles` (the one step the two restore paths do their
 * own way), hard links, symlinks last (so no write of this archive can go through one), folder
 * modes last of all (deepest first, so read-only folders can still be filled).
 */
export async function restorePlan(
  cwd: string,
  plan: RestorePlan,
  opts: { umask: number; writeFiles: (write: WriteFile) => Promise<void> },
): Promise<void> {
  const disk = await checkDisk(cwd, plan);
  const modes: Array<[string, number]> = [];
  for (const level of plan.dirLevels) {
    await Promise.all(
      level.map(async (rel) => {
        const abs = join(cwd, rel);
        if (disk.replace.has(rel)) await unlink(abs);
        const created = disk.fresh.has(rel) && (await makeDir(abs, rel));
        const mode = plan.dirModes.get(rel);
        // A folder that is no output but holds some (e.g. `coverage` for coverage/lcov.info)
        // keeps its mode when it exists: the archive only decides for folders it created.
        if (mode === undefined || (!created && !plan.outputDirs.has(rel))) return;
        if (!created || mode !== (0o777 & ~opts.umask)) modes.push([abs, mode]);
      }),
    );
  }
  await opts.writeFiles(async (file, body) => {
    const abs = join(cwd, file.rel);
    if (Buffer.isBuffer(body)) await createFresh(abs, () => writeFile(abs, body, { mode: file.mode, flag: 'wx' }));
    else {
      const fd = await createFresh(abs, () => open(abs, 'wx', file.mode));
      await pipeline(body, fs.createWriteStream(abs, { fd }));
    }
    // New files get `mode` minus the umask: fix that only when it matters.
    if ((file.mode & opts.umask) !== 0) await chmod(abs, file.mode);
  });
  await eachLimited(plan.hardLinks, FILE_CONCURRENCY, async ([rel, target]) => {
    const abs = join(cwd, rel);
    await createFresh(abs, () => link(join(cwd, target), abs));
  });
  await eachLimited(plan.symlinks, FILE_CONCURRENCY, async ([rel, target]) => {
    const abs = join(cwd, rel);
    await createFresh(abs, () => symlink(target, abs));
  });
  modes.sort((a, b) => b[0].length - a[0].length);
  for (const [abs, mode] of modes) await chmod(abs, mode);
}

/** Creates a folder checkDisk() found missing; true when it did (its mode is 0o777 minus the umask). */
async function makeDir(abs: string, rel: string): Promise<boolean> {
  try {
    await mkdir(abs);
    return true;
  } catch (err) {
    if (errCode(err) !== 'EEXIST') throw err;
  }
  // Something appeared since checkDisk(): accept a real folder only.
  const info = await lstat(abs);
  return info.isDirectory() && !info.isSymbolicLink() ? false : fail(`archive writes through the symlink or file ${rel}`);
}
