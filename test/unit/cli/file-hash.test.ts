import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHasher } from '../../../src/cli/hashing/file-hash.js';

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('file hashing', () => {
  it('hashes small and big files (read whole, or streamed) by content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'velocity-hash-'));
    temps.push(dir);
    const small = Buffer.from('export const a = 1;\n');
    const big = Buffer.alloc((1 << 20) + 12345, 7);
    await writeFile(join(dir, 'empty'), '');
    await writeFile(join(dir, 'small.js'), small);
    await writeFile(join(dir, 'big.bin'), big);
    const h = new FileHasher();
    expect(await h.hash(join(dir, 'empty'))).toBe(sha(''));
    expect(await h.hash(join(dir, 'small.js'))).toBe(sha(small));
    expect(await h.hash(join(dir, 'big.bin'))).toBe(sha(big));
    // Every run hashes afresh: a new hasher sees new content, whatever the size or mtime.
    await writeFile(join(dir, 'small.js'), 'export const a = 2;\n');
    expect(await new FileHasher().hash(join(dir, 'small.js'))).toBe(sha('export const a = 2;\n'));
    await expect(new FileHasher().hash(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });
});
