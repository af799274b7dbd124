import { afterAll, describe, expect, it } from '@jest/globals';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { expandOutputs } from '../../../src/cli/archive/output-files.js';
import { ARCHIVE_FORMAT, packTaskArchive } from '../../../src/cli/archive/task-archive.js';
import { readTarEntries } from '../../../src/cli/archive/tar-reader.js';
import { ArtifactIntegrityError } from '../../../src/cli/errors.js';

const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

/** What tar's own stream parser makes of the same bytes: the reference. */
async function withTar(tar: Buffer): Promise<Array<{ path: string; type: string; mode: number; linkpath: string; data: string }>> {
  const out: Array<{ path: string; type: string; mode: number; linkpath: string; data: string }> = [];
  const pending: Array<Promise<void>> = [];
  const parser = new Parser({
    strict: true,
    onReadEntry: (e: ReadEntry) => {
      const chunks: Buffer[] = [];
      e.on('data', (c: Buffer) => chunks.push(c));
      pending.push(
        new Promise((resolve) =>
          e.on('end', () => {
            out.push({ path: e.path, type: e.type, mode: e.mode ?? 0, linkpath: e.linkpath ?? '', data: Buffer.concat(chunks).toString('base64') });
            resolve();
          }),
        ),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(tar);
  });
  await Promise.all(pending);
  return out;
}

describe('in-memory tar reader', () => {
  it('reads what tar packs exactly as tar reads it: long paths, links, modes, empty and bigger files', async () => {
    const src = await mkdtemp(join(tmpdir(), 'velocity-tar-'));
    temps.push(src);
    const deep = `dist/${'a-long-folder-name-'.repeat(8)}/${'a-long-file-name-'.repeat(7)}.js`;
    await mkdir(join(src, deep, '..'), { recursive: true });
    await writeFile(join(src, deep), 'deep');
    await mkdir(join(src, 'dist/empty'));
    await writeFile(join(src, 'dist/blank.txt'), '');
    await writeFile(join(src, 'dist/big.bin'), Buffer.alloc(70_000, 3));
    await writeFile(join(src, 'dist/run.sh'), '#!/bin/sh\n');
    await chmod(join(src, 'dist/run.sh'), 0o750);
    await symlink(`../${'x'.repeat(120)}/target`, join(src, 'dist/far-link'));
    await symlink('run.sh', join(src, 'dist/near-link'));
    await writeFile(join(src, 'dist/ünïcode-ñame.txt'), 'ü');
    const file = join(src, 'a.tar.gz');
    const meta = { format: ARCHIVE_FORMAT, task: 'a#build', key: 'k', exitCode: 0, durationMs: 1, logs: [] };
    await packTaskArchive({ file, pkgDir: src, entries: await expandOutputs(src, ['dist/**']), meta, partSize: 1 << 20 });
    const tar = gunzipSync(await readFile(file));
    const ours = readTarEntries(tar).map((e) => ({ path: e.path, type: e.type, mode: e.mode, linkpath: e.linkpath, data: e.data.toString('base64') }));
    expect(ours).toEqual(await withTar(tar));
    expect(ours.map((e) => e.path)).toContain(`outputs/${deep}`);
  });

  it('refuses a damaged header and a truncated archive', async () => {
    const src = await mkdtemp(join(tmpdir(), 'velocity-tar-'));
    temps.push(src);
    await mkdir(join(src, 'dist'));
    await writeFile(join(src, 'dist/a.js'), 'a'.repeat(3000));
    const file = join(src, 'a.tar.gz');
    const meta = { format: ARCHIVE_FORMAT, task: 'a#build', key: 'k', exitCode: 0, durationMs: 1, logs: [] };
    await packTaskArchive({ file, pkgDir: src, entries: ['dist', 'dist/a.js'], meta, partSize: 1 << 20 });
    const tar = gunzipSync(await readFile(file));
    const flipped = Buffer.from(tar);
    // The first outputs header: velocity.json and its body take the first two blocks.
    flipped[1024 + 5] = (flipped[1024 + 5] as number) ^ 1;
    expect(() => readTarEntries(flipped)).toThrow(ArtifactIntegrityError);
    expect(() => readTarEntries(tar.subarray(0, 2048))).toThrow(/truncated/);
    expect(() => readTarEntries(tar.subarray(0, 1000))).toThrow(/truncated/);
  });
});
