import { createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip, gunzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import { ArtifactIntegrityError } from '../errors.js';
import { DigestStream, type Digests } from './digest.js';
import { eachLimited, FILE_CONCURRENCY, restorePlan } from './restore-outputs.js';
import { META_PATH, OUTPUTS_PREFIX, planRestore, type EntryHeader } from './restore-plan.js';
import { readTarEntries, type TarEntry } from './tar-reader.js';

/** Archive layout version, recorded in the archive; the key format covers it too. */
export const ARCHIVE_FORMAT = 'velocity-task-archive/1';

/** One captured chunk of a task's output: 1 = stdout, 2 = stderr. */
export type LogChunk = [1 | 2, string];

export interface TaskMeta {
  format: string;
  task: string;
  key: string;
  exitCode: number;
  durationMs: number;
  /** Captured stdout/stderr in the order they were written (UTF-8 text). */
  logs: LogChunk[];
}

function metaBlocks(Header: typeof import('tar').Header, meta: TaskMeta): Buffer[] {
  const body = Buffer.from(JSON.stringify(meta), 'utf8');
  const header = new Header({ path: META_PATH, mode: 0o644, size: body.length, mtime: new Date(0), type: 'File', uid: 0, gid: 0 });
  header.encode();
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return [header.block as Buffer, body, pad];
}

/**
 * Writes `<file>`: gzip(tar) of the task's metadata and logs, then its outputs under `outputs/`.
 * Streamed end to end (never held whole in memory); digests are computed on the way to disk.
 */
export async function packTaskArchive(opts: {
  file: string;
  pkgDir: string;
  entries: readonly string[];
  meta: TaskMeta;
  partSize: number;
}): Promise<Digests> {
  // Not `portable`: it would rewrite modes (e.g. 0o444 -> 0o644), and modes must come back exact.
  // Loaded on a miss only: a run of hits never needs the packer.
  const { Header, Pack } = await import('tar');
  const pack = new Pack({ cwd: opts.pkgDir, noDirRecurse: true, prefix: OUTPUTS_PREFIX });
  for (const entry of opts.entries) pack.add(entry);
  pack.end();
  const meta = metaBlocks(Header, opts.meta);
  async function* tarStream(): AsyncGenerator<Buffer> {
    yield* meta;
    for await (const chunk of pack) yield chunk;
  }
  const digest = new DigestStream(opts.partSize);
  // Level 1: the archive is written on every miss and read on every hit; speed beats ratio.
  await pipeline(tarStream, createGzip({ level: 1, strategy: zlibConstants.Z_DEFAULT_STRATEGY }), digest, createWriteStream(opts.file));
  return digest.digests;
}


/**
 * The streamed restore, for big archives, in constant memory and two passes over the file: the
 * first reads the headers (and velocity.json) and builds the plan, so the whole archive is
 * validated before the first byte is written; the second writes the bodies the plan names.
 */
async function unpackStreaming(source: string | Buffer, pkgDir: string, outputs: readonly string[]): Promise<TaskMeta> {
  // Big archives only: the stream walker loads when one comes.
  const { headerOf, walkTar } = await import('./tar-stream.js');
  const headers: EntryHeader[] = [];
  const metaChunks: Buffer[] = [];
  let metaSeen = false;
  await walkTar(source, (entry, index) => {
    headers[index] = headerOf(entry);
    if (!metaSeen && entry.path === META_PATH && entry.type === 'File') {
      metaSeen = true;
      entry.on('data', (c: Buffer) => metaChunks.push(c));
      return new Promise<void>((resolve) => entry.on('end', resolve));
    }
    entry.resume();
  });
  const plan = planRestore(headers, outputs);
  const meta = parseMeta(Buffer.concat(metaChunks));
  const bodies = new Map(plan.files.map((f) => [f.index, f]));
  await restorePlan(pkgDir, plan, {
    umask: UMASK,
    writeFiles: (write) =>
      walkTar(source, (entry, index) => {
        const want = headers[index];
        const got = headerOf(entry);
        // The second pass must meet the archive the first one validated, entry for entry.
        if (!want || want.path !== got.path || want.type !== got.type || want.size !== got.size || want.linkpath !== got.linkpath) {
          throw new ArtifactIntegrityError('archive changed while it was restored');
        }
        const file = bodies.get(index);
        if (file) return write(file, entry as unknown as Readable);
        entry.resume();
      }),
  });
  return meta;
}

function parseMeta(bytes: Buffer): TaskMeta {
  try {
    const meta = JSON.parse(bytes.toString('utf8')) as TaskMeta;
    if (meta.format !== ARCHIVE_FORMAT || typeof meta.exitCode !== 'number' || !Array.isArray(meta.logs)) throw new Error('unexpected shape');
    return meta;
  } catch (err) {
    throw new ArtifactIntegrityError(`archive metadata is damaged: ${(err as Error).message}`, err);
  }
}

const describe = (source: string | Buffer): string => (typeof source === 'string' ? source : 'the downloaded archive');

/** Archives up to this size (compressed) are restored from memory; bigger ones are streamed. */
export const BUFFERED_ARCHIVE_MAX = 16 * 1024 * 1024;
/** ...as long as they also inflate to at most this much (memory stays bounded either way). */
const BUFFERED_TAR_MAX = 128 * 1024 * 1024;
/** Below this, inflating on the main thread is quicker than a round trip to the thread pool. */
const SYNC_GUNZIP_MAX = 256 * 1024;
const gunzipAsync = promisify(gunzip);

/** The tar inside `gz`, or null when it would inflate past BUFFERED_TAR_MAX (then we stream). */
async function inflate(gz: Buffer, source: string | Buffer): Promise<Buffer | null> {
  try {
    const opts = { maxOutputLength: BUFFERED_TAR_MAX };
    return gz.length <= SYNC_GUNZIP_MAX ? gunzipSync(gz, opts) : await gunzipAsync(gz, opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
    throw new ArtifactIntegrityError(`cannot extract ${describe(source)}: ${(err as Error).message}`, err);
  }
}

/**
 * Restores the outputs into `pkgDir` (files, folders, symlinks, modes) and returns the metadata.
 * `source` is the archive's path or its bytes (a verified download); `outputs` the task's output
 * globs, which every entry must match. Most hits are small: they are inflated and parsed in
 * memory; big ones are streamed in constant memory. Both paths build the same validated plan
 * (planRestore: velocity.json plus declared outputs, nothing else) before the first write, and
 * execute it the same way (restorePlan); a refused archive is an ArtifactIntegrityError.
 */
export async function unpackTaskArchive(
  source: string | Buffer,
  pkgDir: string,
  outputs: readonly string[],
  opts: { bufferedMax?: number } = {},
): Promise<TaskMeta> {
  const max = opts.bufferedMax ?? BUFFERED_ARCHIVE_MAX;
  const size = typeof source === 'string' ? (await stat(source)).size : source.length;
  if (size > max) return unpackStreaming(source, pkgDir, outputs);
  const tar = await inflate(typeof source === 'string' ? await readFile(source) : source, source);
  if (tar === null) return unpackStreaming(source, pkgDir, outputs);
  const entries = readTarEntries(tar);
  const plan = planRestore(entries, outputs);
  const meta = parseMeta((entries[plan.metaIndex] as TarEntry).data);
  await restorePlan(pkgDir, plan, {
    umask: UMASK,
    writeFiles: (write) => eachLimited(plan.files, FILE_CONCURRENCY, (f) => write(f, (entries[f.index] as TarEntry).data)),
  });
  return meta;
}

/** Read once: process.umask() is a syscall, and nothing here changes it. */
const UMASK = process.umask();
