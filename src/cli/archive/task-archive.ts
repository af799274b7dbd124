import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zlibConstants } from 'node:zlib';
import { Header, Pack } from 'tar';
import { ArtifactIntegrityError } from '../errors.js';
import { DigestStream, type Digests } from './digest.js';
import { OutputExtractor } from './extract.js';

/** Archive layout version, recorded in the archive; the key format covers it too. */
export const ARCHIVE_FORMAT = 'velocity-task-archive/1';
const META_PATH = 'velocity.json';
const OUTPUTS_PREFIX = 'outputs';

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

function metaBlocks(meta: TaskMeta): Buffer[] {
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
  const pack = new Pack({ cwd: opts.pkgDir, noDirRecurse: true, prefix: OUTPUTS_PREFIX });
  for (const entry of opts.entries) pack.add(entry);
  pack.end();
  const meta = metaBlocks(opts.meta);
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
 * Restores the outputs into `pkgDir` (files, folders, symlinks, modes) and returns the metadata.
 * One pass: the file is decompressed and parsed once; velocity.json is read, every entry under
 * `outputs/` is written, anything else rejects the archive.
 */
export async function unpackTaskArchive(file: string, pkgDir: string): Promise<TaskMeta> {
  const metaChunks: Buffer[] = [];
  let sawMeta = false;
  const refused: string[] = [];
  const extractor = new OutputExtractor(pkgDir, OUTPUTS_PREFIX, (entry) => {
    if (entry.path === META_PATH && !sawMeta) {
      sawMeta = true;
      entry.on('data', (c: Buffer) => metaChunks.push(c));
    } else {
      refused.push(entry.path);
      entry.resume();
    }
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), extractor.parser as unknown as NodeJS.WritableStream);
    await extractor.finish();
  } catch (err) {
    if (err instanceof ArtifactIntegrityError) throw err;
    throw new ArtifactIntegrityError(`cannot extract ${file}: ${(err as Error).message}`, err);
  }
  if (refused.length > 0) throw new ArtifactIntegrityError(`archive has entries outside the package: ${refused.slice(0, 3).join(', ')}`);
  if (!sawMeta) throw new ArtifactIntegrityError('archive has no velocity.json');
  try {
    const meta = JSON.parse(Buffer.concat(metaChunks).toString('utf8')) as TaskMeta;
    if (meta.format !== ARCHIVE_FORMAT || typeof meta.exitCode !== 'number' || !Array.isArray(meta.logs)) throw new Error('unexpected shape');
    return meta;
  } catch (err) {
    throw new ArtifactIntegrityError(`archive metadata is damaged: ${(err as Error).message}`, err);
  }
}
