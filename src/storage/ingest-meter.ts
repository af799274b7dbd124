import { createHash } from 'node:crypto';
import { Transform, finished, type Readable, type TransformCallback } from 'node:stream';
import { PayloadTooLargeError } from '../errors.js';
import type { IngestIntent } from './driver.js';
import { IntegrityError } from './errors.js';

/** What a complete body turned out to be. */
export interface Measured {
  readonly size: number;
  /** Lowercase hex. */
  readonly sha256: string;
}

/**
 * Counts and hashes an ingested body as it passes, in constant memory, and enforces the intent's
 * limits the moment they are crossed:
 * - past `maxSize` (a chunked body): PayloadTooLargeError at once, the meter fails;
 * - fewer bytes than declared: IntegrityError when the body ends, the meter fails (a store request
 *   of the declared length can never complete, so it is cut);
 * - past the declared size: the declared bytes are passed on and the meter ends there, reading no
 *   more ('overflow'); another SHA-256 than the one required: known only at the end. For both the
 *   meter ends cleanly (a store request of the declared length completes rather than stalling on
 *   bytes it will never get) and `result` throws the IntegrityError, so whatever was written is
 *   discarded before it is published.
 * Only `result` says the body was whole and right: every caller reads it before publishing.
 */
export class IngestMeter extends Transform {
  private seen = 0;
  private passed = 0;
  private readonly hash = createHash('sha256');
  private measured: Measured | undefined;
  private violation: IntegrityError | undefined;

  constructor(private readonly limits: Pick<IngestIntent, 'size' | 'maxSize' | 'sha256'>) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.violation) {
      done();
      return;
    }
    this.seen += chunk.length;
    const { size, maxSize } = this.limits;
    if (size !== undefined && this.seen > size) {
      this.violation = new IntegrityError(`body is longer than the declared ${size} bytes`);
      const keep = chunk.length - (this.seen - size);
      if (keep > 0) this.pass(chunk.subarray(0, keep));
      this.push(null);
      this.emit('overflow');
      done();
      return;
    }
    if (this.seen > maxSize) {
      done(new PayloadTooLargeError(`artifact is larger than the ${maxSize} bytes this server accepts`));
      return;
    }
    this.pass(chunk);
    done();
  }

  private pass(chunk: Buffer): void {
    this.hash.update(chunk);
    this.passed += chunk.length;
    this.push(chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.violation) {
      done();
      return;
    }
    const { size, sha256 } = this.limits;
    if (size !== undefined && this.seen !== size) {
      done(new IntegrityError(`body has ${this.seen} bytes, declared ${size}`));
      return;
    }
    const digest = this.hash.digest('hex');
    if (sha256 !== undefined && digest !== sha256) this.violation = new IntegrityError(`body does not match its sha256 (${sha256})`);
    this.measured = { size: this.seen, sha256: digest };
    done();
  }

  /** Bytes passed on so far. */
  get forwarded(): number {
    return this.passed;
  }

  /** Size and digest of the whole body, once the meter has ended; IntegrityError when it was not right. */
  get result(): Measured {
    if (this.violation) throw this.violation;
    if (!this.measured) throw new Error('ingest: the body is not complete');
    return this.measured;
  }
}

export interface MeteredBody {
  readonly meter: IngestMeter;
  /**
   * Unhooks the body from the meter and destroys the meter. The body itself is left as it is: on
   * a refusal (too large, integrity, store outage) the gateway still answers the client, which it
   * cannot once the request is destroyed; Node discards what is left of it after the answer.
   */
  detach(): void;
}

/**
 * Feeds `body` through a meter. The meter fails with the body's error (or a premature close: a
 * client that left), and with the signal's reason when it fires, so a consumer reading the meter
 * always learns why the bytes stopped.
 */
export function meterBody(body: Readable, intent: Pick<IngestIntent, 'size' | 'maxSize' | 'sha256'>, signal?: AbortSignal): MeteredBody {
  const meter = new IngestMeter(intent);
  // Its consumer (a file, the SDK's request, a part reader) learns of errors its own way; a
  // consumer that only pipes (the SDK) must not turn one into an uncaught 'error' event.
  meter.on('error', () => undefined);
  const stopWatching = finished(body, { writable: false }, (err) => {
    if (err) meter.destroy(err);
  });
  const onAbort = (): void => void meter.destroy(abortReason(signal));
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  // Past the declared size nothing more is read: the meter's output has ended (see IngestMeter),
  // and its input ends too, so it counts as finished, not cut short, for whoever reads it.
  meter.once('overflow', () => {
    body.unpipe(meter);
    meter.end();
  });
  body.pipe(meter);
  return {
    meter,
    detach() {
      stopWatching();
      signal?.removeEventListener('abort', onAbort);
      body.unpipe(meter);
      if (!meter.destroyed) meter.destroy();
    },
  };
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return Object.assign(new Error('the upload was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}
