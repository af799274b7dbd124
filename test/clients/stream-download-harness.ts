import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ArtifactRef, ArtifactStream, StorageDriver } from '../../src/storage/driver.js';

/** One store read as the gateway used it. */
export interface StoreRead {
  readonly ref: ArtifactRef;
  /** Bytes that arrived from the store into the stream so far. */
  pulled: number;
  /** The store stream reached its end. */
  ended: boolean;
  /** The store stream was closed (at its end, or destroyed before it). */
  closed: boolean;
}

/**
 * Watches every `openRead` of a running gateway's driver (the same object its routes call): how
 * far each store stream was read, and whether and how it was closed.
 */
export function watchReads(driver: StorageDriver): StoreRead[] {
  const reads: StoreRead[] = [];
  const openRead = driver.openRead.bind(driver);
  driver.openRead = async (...args: Parameters<StorageDriver['openRead']>): Promise<ArtifactStream> => {
    const stream = await openRead(...args);
    const read: StoreRead = { ref: args[0].ref, pulled: 0, ended: false, closed: false };
    reads.push(read);
    watch(stream.body, read);
    return stream;
  };
  return reads;
}

/**
 * Counts the bytes that reach the store stream from the store's socket, without touching the flow
 * (a 'data' listener would start it before the gateway pipes it): `push()` is how a socket's bytes
 * enter a Readable, and it stops being called once the stream's buffer is full and nobody reads.
 */
function watch(body: Readable, read: StoreRead): void {
  const original = body.push.bind(body);
  body.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk !== null && chunk !== undefined) read.pulled += (chunk as Buffer).length;
    return original(chunk, encoding);
  };
  body.once('end', () => (read.ended = true));
  body.once('close', () => (read.closed = true));
}

/** A fresh namespace per test, so tests share a gateway without seeing each other's entries. */
export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
