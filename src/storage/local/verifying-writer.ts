import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError } from '../errors.js';

export interface Expected {
  readonly size: number;
  readonly sha256?: string | undefined;
  /** Base64. */
  readonly md5?: string | undefined;
}

/**
 * Streams `body` into `file` in constant memory while counting and hashing it; throws
 * IntegrityError (and leaves cleanup of `file` to the caller) when it is not what was declared.
 * A body longer than declared is cut off as soon as it passes the length.
 */
export async function writeVerified(body: Readable, file: string, expected: Expected, signal?: AbortSignal): Promise<void> {
  const sha = expected.sha256 ? createHash('sha256') : undefined;
  const md5 = expected.md5 ? createHash('md5') : undefined;
  let seen = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > expected.size) {
        done(new IntegrityError(`body is longer than the declared ${expected.size} bytes`));
        return;
      }
      sha?.update(chunk);
      md5?.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(body, check, createWriteStream(file, { flags: 'wx' }), signal ? { signal } : {});
  if (seen !== expected.size) throw new IntegrityError(`body has ${seen} bytes, declared ${expected.size}`);
  if (sha && sha.digest('hex') !== expected.sha256) throw new IntegrityError('body does not match the declared sha256');
  if (md5 && md5.digest('base64') !== expected.md5) throw new IntegrityError('body does not match the declared md5');
}
