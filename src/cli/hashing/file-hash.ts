import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

const SMALL = 1 << 20;

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  const info = await stat(file);
  if (info.size <= SMALL) {
    return hash.update(await readFile(file)).digest('hex');
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
