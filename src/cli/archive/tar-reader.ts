import { Parser, type ReadEntry } from 'tar';
import { ArtifactIntegrityError } from '../errors.js';

/** One entry of an in-memory tar: `data` holds the body (files only). */
export interface TarEntry {
  path: string;
  type: string;
  mode: number;
  linkpath: string;
  size: number;
  data: Buffer;
}

/**
 * Lists the entries of a whole tar held in memory, synchronously, with tar's own parser (strict:
 * a bad header checksum or a truncated archive is an error, never a partial list). On a cache hit
 * the archive is small and already in memory (downloaded and verified), so reading it in one call
 * and restoring with parallel writes beats a streamed extraction.
 */
export function readTarEntries(buf: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let failure: string | undefined;
  let ended = false;
  const parser = new Parser({
    strict: true,
    onwarn: (_code: string, message: string | Error) => {
      failure ??= typeof message === 'string' ? message : message.message;
    },
  });
  parser.on('error', (err: Error) => {
    failure ??= err.message;
  });
  parser.on('entry', (entry: ReadEntry) => {
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    entry.on('end', () => {
      entries.push({
        path: entry.path,
        type: entry.type,
        mode: entry.mode ?? 0,
        linkpath: entry.linkpath ?? '',
        size: entry.size ?? 0,
        data: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
      });
    });
  });
  parser.on('end', () => {
    ended = true;
  });
  parser.end(buf);
  if (failure !== undefined) {
    throw new ArtifactIntegrityError(/truncated/i.test(failure) ? `archive is truncated (${failure})` : `archive is damaged: ${failure}`);
  }
  // The parser is synchronous over a buffer; no end means the bytes stopped mid-archive.
  if (!ended || entries.length === 0) throw new ArtifactIntegrityError('archive is truncated');
  return entries;
}
