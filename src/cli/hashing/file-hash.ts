import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';

const SMALL = 1 << 20;

/**
 * Source files are small and usually in the page cache: reading them with a few synchronous
 * calls costs microseconds, where the async path costs four thread-pool round trips per file
 * (open, fstat, read, close), hundreds of them before the first key is known. Big files are
 * streamed, so memory stays bounded.
 */
async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= SMALL) {
      const buf = Buffer.allocUnsafe(size + 1);
      let n = 0;
      // One more byte than the size: a file that grew since fstat is read to its end.
      for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
      if (n <= size) return hash.update(buf.subarray(0, n)).digest('hex');
    }
  } finally {
    closeSync(fd);
  }
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** SHA-256 of file contents, each file read once per run however many tasks list it. */
export class FileHasher {
  readonly #memo = new Map<string, Promise<string>>();

  hash(absPath: string): Promise<string> {
    let p = this.#memo.get(absPath);
    if (!p) {
      p = hashFile(absPath);
      this.#memo.set(absPath, p);
    }
    return p;
  }
}
