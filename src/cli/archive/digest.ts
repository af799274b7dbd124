import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export interface Digests {
  size: number;
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
  /** Base64 MD5 of the bytes. */
  md5: string;
  /** Size and base64 MD5 of each `partSize` slice, for multipart uploads. */
  parts: Array<{ size: number; md5: string }>;
}

/**
 * A pass-through that computes every digest an upload may need (SHA-256, MD5, per-part MD5s) in
 * the single pass that writes the archive, so the file is never read again just to hash it.
 */
export class DigestStream extends Transform {
  readonly #sha = createHash('sha256');
  readonly #md5 = createHash('md5');
  readonly #partSize: number;
  #part: Hash = createHash('md5');
  #partFill = 0;
  #size = 0;
  readonly #parts: Array<{ size: number; md5: string }> = [];
  #result: Digests | undefined;

  constructor(partSize: number) {
    super();
    this.#partSize = partSize;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#sha.update(chunk);
    this.#md5.update(chunk);
    this.#size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.#partSize - this.#partFill, chunk.length - offset);
      this.#part.update(chunk.subarray(offset, offset + take));
      this.#partFill += take;
      offset += take;
      if (this.#partFill === this.#partSize) this.#closePart();
    }
    done(null, chunk);
  }

  #closePart(): void {
    this.#parts.push({ size: this.#partFill, md5: this.#part.digest('base64') });
    this.#part = createHash('md5');
    this.#partFill = 0;
  }

  override _flush(done: TransformCallback): void {
    if (this.#partFill > 0 || this.#parts.length === 0) this.#closePart();
    this.#result = {
      size: this.#size,
      sha256: this.#sha.digest('hex'),
      md5: this.#md5.digest('base64'),
      parts: this.#parts,
    };
    done();
  }

  get digests(): Digests {
    if (!this.#result) throw new Error('digests read before the stream ended');
    return this.#result;
  }
}
