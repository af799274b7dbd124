import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * Reads the BuildRequest an upstream answer carries, decoded by its `Content-Encoding`. The client's
 * `Accept-Encoding` reaches the upstream (pass-through answers should stay compressed), so an
 * intercepted answer may be gzip, deflate or br: reading it as JSON as it came gave 502s. The
 * limit counts decoded bytes, so a small compressed body cannot expand past it.
 */
export async function readBuildBody(res: IncomingMessage, maxBytes: number): Promise<unknown> {
  const encodings = (res.headers['content-encoding'] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '' && s !== 'identity');
  let stream: Readable = res;
  // Encodings are listed in the order applied; undo them last first (RFC 9110 §8.4).
  for (const encoding of encodings.reverse()) {
    const next = decoder(encoding);
    // pipe() does not pass errors on: a reset upstream must fail the read, not hang it.
    stream.on('error', (err) => next.destroy(err));
    stream = stream.pipe(next);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) throw new Error(`body larger than ${maxBytes} bytes`);
      chunks.push(buf);
    }
  } finally {
    res.destroy();
    if (stream !== res) stream.destroy();
  }
  if (size === 0) throw new Error('empty body');
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function decoder(encoding: string) {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      throw new Error(`unsupported Content-Encoding ${encoding}`);
  }
}
