import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ArtifactIntegrityError } from '../errors.js';
import type { EntryHeader } from './restore-plan.js';

/** Entries handled at once: bounds open files; the parser waits (backpressure) for a free slot. */
const CONCURRENCY = 16;

export const headerOf = (entry: ReadEntry): EntryHeader => ({
  path: entry.path,
  type: entry.type,
  mode: entry.mode ?? 0,
  linkpath: entry.linkpath ?? '',
  size: entry.size ?? 0,
});

/**
 * Reads a gzip'd tar (a file, or bytes) as a stream, in constant memory, and hands each entry
 * with its position to `visit`, which must consume or resume() it. At most CONCURRENCY visits
 * run at once: an entry waiting for a slot is not read, so the parser (and the file) wait too.
 * A damaged or truncated archive is an ArtifactIntegrityError, never a partial walk.
 */
export async function walkTar(source: string | Buffer, visit: (entry: ReadEntry, index: number) => Promise<void> | void): Promise<void> {
  const queue: Array<[ReadEntry, number]> = [];
  let active = 0;
  let count = 0;
  let failure: unknown;
  let idle: (() => void) | undefined;
  const pump = (): void => {
    while (active < CONCURRENCY && queue.length > 0) {
      const [entry, index] = queue.shift() as [ReadEntry, number];
      active++;
      Promise.resolve()
        .then(() => (failure === undefined ? visit(entry, index) : entry.resume()))
        .catch((err: unknown) => {
          failure ??= err;
          entry.resume();
        })
        .finally(() => {
          active--;
          pump();
          if (active === 0 && queue.length === 0) idle?.();
        });
    }
  };
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      queue.push([entry, count++]);
      pump();
    },
  });
  try {
    const input = typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
    await pipeline(input, createGunzip(), parser as unknown as NodeJS.WritableStream);
  } catch (err) {
    failure ??= err;
  }
  if (active > 0 || queue.length > 0) await new Promise<void>((resolve) => (idle = resolve));
  if (failure === undefined) return;
  if (failure instanceof ArtifactIntegrityError) throw failure;
  throw new ArtifactIntegrityError(`cannot extract ${typeof source === 'string' ? source : 'the downloaded archive'}: ${(failure as Error).message}`, failure);
}
