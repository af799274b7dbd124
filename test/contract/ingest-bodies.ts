import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

export const MiB = 1024 * 1024;

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `bytes` in chunks of `size`, yielding to the event loop between chunks (so writers interleave). */
export function chunked(bytes: Buffer, size = 64 * 1024): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < bytes.length; i += size) {
        await yieldToLoop();
        yield bytes.subarray(i, i + size);
      }
    })(),
    { objectMode: false },
  );
}

/** A body the test feeds by hand (`write`, `end`, `destroy`), to stop it mid-stream. */
export function handFed(): PassThrough {
  return new PassThrough({ highWaterMark: 64 * 1024 });
}

/** Waits until the consumer has taken everything written to a hand-fed body so far. */
export async function drained(body: PassThrough, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (body.writableLength > 0 || body.readableLength > 0) {
    if (Date.now() > until) throw new Error('the store did not read the body');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Polls `check` until it holds (a wait for something the test cannot be told about). */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
