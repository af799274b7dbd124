import type { Readable } from 'node:stream';

/** One part: `bytes` is a view of `buffer`, which goes back to the reader's pool once sent. */
export interface Part {
  readonly bytes: Buffer;
  readonly buffer: Buffer;
}

/**
 * Cuts a stream into parts of exactly `partSize` bytes (the last one shorter), copied into buffers
 * the caller gives back with `release` once a part is sent. Buffers are reused, so memory is the
 * number of parts held at once times the part size, however long the stream; nothing is read
 * ahead of the part being filled (the stream's own backpressure holds the sender).
 */
export class PartReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private rest: Buffer | undefined;
  private ended = false;
  private readonly pool: Buffer[] = [];

  constructor(
    stream: Readable,
    readonly partSize: number,
  ) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next part, or `undefined` once the stream has ended (cleanly: an error rejects). */
  async next(): Promise<Part | undefined> {
    if (this.ended && !this.rest) return undefined;
    const buffer = this.pool.pop() ?? Buffer.allocUnsafeSlow(this.partSize);
    let filled = 0;
    while (filled < this.partSize) {
      let chunk = this.rest;
      this.rest = undefined;
      if (!chunk) {
        if (this.ended) break;
        const r = await this.chunks.next().catch((err: unknown) => {
          this.pool.push(buffer);
          throw err;
        });
        if (r.done) {
          this.ended = true;
          break;
        }
        chunk = r.value;
      }
      const n = Math.min(chunk.length, this.partSize - filled);
      chunk.copy(buffer, filled, 0, n);
      filled += n;
      if (n < chunk.length) this.rest = chunk.subarray(n);
    }
    if (filled === 0) {
      this.pool.push(buffer);
      return undefined;
    }
    return { bytes: buffer.subarray(0, filled), buffer };
  }

  release(part: Part): void {
    this.pool.push(part.buffer);
  }
}
