import { afterAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Header } from 'tar';
import { expandOutputs } from '../../../src/cli/archive/output-files.js';
import { ARCHIVE_FORMAT, packTaskArchive, unpackTaskArchive } from '../../../src/cli/archive/task-archive.js';
import { ArtifactIntegrityError } from '../../../src/cli/errors.js';

const temps: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'velocity-archive-'));
  temps.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

const meta = { format: ARCHIVE_FORMAT, task: 'a#build', key: 'k', exitCode: 0, durationMs: 12, logs: [[1, 'out ✓\n'], [2, 'err\n']] as Array<[1 | 2, string]> };

/** Writes a gzipped tar of exactly these entries: for archives our packer would never make. */
async function writeCraftedArchive(file: string, entries: ReadonlyArray<readonly [Header, Buffer?]>): Promise<void> {
  const blocks: Buffer[] = [];
  for (const [h, body = Buffer.alloc(0)] of entries) {
    h.encode();
    blocks.push(h.block as Buffer, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  await pipeline(Readable.from(blocks), createGzip(), createWriteStream(file));
}

/** The archive's velocity.json entry for `meta`. */
function metaEntry(): readonly [Header, Buffer] {
  const body = Buffer.from(JSON.stringify(meta));
  return [new Header({ path: 'velocity.json', mode: 0o644, size: body.length, type: 'File', mtime: new Date(0) }), body];
}

/** The output globs every restore below is checked against. */
const OUTPUTS = ['dist/**', 'build/', 'coverage/lcov.info', 'ok.txt', 'a.txt', 'stolen'];

// Every behaviour holds on both restore paths: in memory (most hits) and streamed (big archives).
describe.each([
  ['in memory', undefined],
  ['streamed', 0],
])('task archive (%s)', (_path, bufferedMax) => {
  const unpack = (source: string | Buffer, dir: string) => unpackTaskArchive(source, dir, OUTPUTS, bufferedMax === undefined ? {} : { bufferedMax });

  it('round-trips files, folders (empty ones too), symlinks and modes byte-identically', async () => {
    const src = await tempDir();
    const dst = await tempDir();
    await mkdir(join(src, 'dist/nested/deep'), { recursive: true });
    await mkdir(join(src, 'dist/empty'), { recursive: true });
    await mkdir(join(src, 'build'), { recursive: true });
    await writeFile(join(src, 'dist/index.js'), 'export const a = 1;\n');
    await writeFile(join(src, 'dist/nested/deep/bin.sh'), '#!/bin/sh\necho hi\n');
    await chmod(join(src, 'dist/nested/deep/bin.sh'), 0o755);
    await writeFile(join(src, 'dist/.hidden'), Buffer.from([0, 1, 2, 255]));
    await symlink('index.js', join(src, 'dist/link.js'));
    await mkdir(join(src, 'coverage'));
    await writeFile(join(src, 'coverage/lcov.info'), 'TN:\n');
    await writeFile(join(src, 'coverage/other.txt'), 'not an output');
    await writeFile(join(src, 'src.ts'), 'not an output');

    const entries = await expandOutputs(src, ['dist/**', 'build/', 'coverage/lcov.info']);
    expect(entries).toEqual([
      'build', 'coverage', 'coverage/lcov.info', 'dist', 'dist/.hidden', 'dist/empty', 'dist/index.js',
      'dist/link.js', 'dist/nested', 'dist/nested/deep', 'dist/nested/deep/bin.sh',
    ]);
    const file = join(await tempDir(), 'a.tar.gz');
    const digests = await packTaskArchive({ file, pkgDir: src, entries, meta, partSize: 1024 });
    const bytes = await readFile(file);
    expect(digests.size).toBe(bytes.length);
    expect(digests.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(digests.md5).toBe(createHash('md5').update(bytes).digest('base64'));
    expect(digests.parts.reduce((n, p) => n + p.size, 0)).toBe(bytes.length);

    const restored = await unpack(file, dst);
    expect(restored).toEqual(meta);
    for (const f of ['dist/index.js', 'dist/nested/deep/bin.sh', 'dist/.hidden', 'coverage/lcov.info']) {
      expect(await readFile(join(dst, f))).toEqual(await readFile(join(src, f)));
      expect((await stat(join(dst, f))).mode).toBe((await stat(join(src, f))).mode);
    }
    expect(await readlink(join(dst, 'dist/link.js'))).toBe('index.js');
    expect((await stat(join(dst, 'dist/empty'))).isDirectory()).toBe(true);
    expect((await stat(join(dst, 'build'))).isDirectory()).toBe(true);
    await expect(stat(join(dst, 'coverage/other.txt'))).rejects.toThrow();
    await expect(stat(join(dst, 'src.ts'))).rejects.toThrow();
    await rm(src, { recursive: true });
  });

  function craft(file: string, entries: Array<{ path: string; body: Buffer }>): Promise<void> {
    return writeCraftedArchive(
      file,
      entries.map(({ path, body }) => [new Header({ path, mode: 0o644, size: body.length, mtime: new Date(0), type: 'File' }), body] as const),
    );
  }

  it.each([['outputs/../../escape.txt'], ['/abs/escape.txt'], ['elsewhere/escape.txt']])(
    'refuses an archive with the entry %s and writes nothing outside the package',
    async (evil) => {
      const dir = await tempDir();
      const file = join(dir, 'evil.tar.gz');
      await craft(file, [
        { path: 'velocity.json', body: Buffer.from(JSON.stringify(meta)) },
        { path: 'outputs/ok.txt', body: Buffer.from('fine') },
        { path: evil, body: Buffer.from('pwned') },
      ]);
      const target = join(dir, 'pkg', 'inner');
      await mkdir(target, { recursive: true });
      await expect(unpack(file, target)).rejects.toBeInstanceOf(ArtifactIntegrityError);
      await expect(stat(join(dir, 'escape.txt'))).rejects.toThrow();
      await expect(stat(join(dir, 'pkg', 'escape.txt'))).rejects.toThrow();
      await expect(stat('/abs/escape.txt')).rejects.toThrow();
    },
  );

  it('refuses an archive that does not start with its metadata', async () => {
    const dir = await tempDir();
    const file = join(dir, 'no-meta.tar.gz');
    await craft(file, [{ path: 'outputs/a.txt', body: Buffer.from('a') }]);
    await expect(unpack(file, dir)).rejects.toThrow('archive has no velocity.json');
  });

  it('never writes through a symlink, whether from the archive or already on disk', async () => {
    const dir = await tempDir();
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'victim.txt'), 'untouched');
    const pkg = join(dir, 'pkg');
    await mkdir(pkg);

    // A link in the archive, then a file "inside" it.
    const file = join(dir, 'link-then-write.tar.gz');
    await writeCraftedArchive(file, [
      metaEntry(),
      [new Header({ path: 'outputs/dist', mode: 0o755, size: 0, type: 'SymbolicLink', linkpath: outside, mtime: new Date(0) })],
      [new Header({ path: 'outputs/dist/victim.txt', mode: 0o644, size: 5, type: 'File', mtime: new Date(0) }), Buffer.from('pwned')],
    ]);
    await expect(unpack(file, pkg)).rejects.toThrow('symlink');
    expect(await readFile(join(outside, 'victim.txt'), 'utf8')).toBe('untouched');

    // A link already on disk where the archive has a folder, and a linked file it replaces.
    const src = await tempDir();
    await mkdir(join(src, 'dist'));
    await writeFile(join(src, 'dist/victim.txt'), 'new content');
    const good = join(dir, 'good.tar.gz');
    await packTaskArchive({ file: good, pkgDir: src, entries: ['dist', 'dist/victim.txt'], meta, partSize: 1 << 20 });
    const pkg2 = join(dir, 'pkg2');
    await mkdir(pkg2);
    await symlink(outside, join(pkg2, 'dist'));
    await expect(unpack(good, pkg2)).rejects.toThrow('symlink');
    expect(await readFile(join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
    const pkg3 = join(dir, 'pkg3');
    await mkdir(join(pkg3, 'dist'), { recursive: true });
    await symlink(join(outside, 'victim.txt'), join(pkg3, 'dist/victim.txt'));
    await unpack(good, pkg3);
    expect(await readFile(join(pkg3, 'dist/victim.txt'), 'utf8')).toBe('new content');
    expect(await readFile(join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
  });

  it('restores read-only folders and their contents', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'dist/locked'), { recursive: true });
    await writeFile(join(src, 'dist/locked/a.txt'), 'a');
    await chmod(join(src, 'dist/locked/a.txt'), 0o444);
    await chmod(join(src, 'dist/locked'), 0o555);
    const file = join(await tempDir(), 'ro.tar.gz');
    await packTaskArchive({ file, pkgDir: src, entries: await expandOutputs(src, ['dist/**']), meta, partSize: 1 << 20 });
    const dst = await tempDir();
    await unpack(file, dst);
    expect((await stat(join(dst, 'dist/locked'))).mode & 0o777).toBe(0o555);
    expect((await stat(join(dst, 'dist/locked/a.txt'))).mode & 0o777).toBe(0o444);
    expect(await readFile(join(dst, 'dist/locked/a.txt'), 'utf8')).toBe('a');
    await chmod(join(dst, 'dist/locked'), 0o755);
    await chmod(join(src, 'dist/locked'), 0o755);
  });

  it('rejects a damaged archive', async () => {
    const dir = await tempDir();
    const file = join(dir, 'bad.tar.gz');
    await writeFile(file, 'not gzip at all');
    await expect(unpack(file, dir)).rejects.toBeInstanceOf(ArtifactIntegrityError);
  });
  it('restores from the bytes of a verified download, long paths included', async () => {
    const src = await tempDir();
    const deep = `dist/${'a-very-long-folder-name-'.repeat(6)}/${'and-a-long-file-name-'.repeat(5)}.js`;
    await mkdir(join(src, deep, '..'), { recursive: true });
    await writeFile(join(src, deep), 'deep');
    const file = join(await tempDir(), 'a.tar.gz');
    await packTaskArchive({ file, pkgDir: src, entries: await expandOutputs(src, ['dist/**']), meta, partSize: 1 << 20 });
    const dst = await tempDir();
    expect(await unpack(await readFile(file), dst)).toEqual(meta);
    expect(await readFile(join(dst, deep), 'utf8')).toBe('deep');
  });

  it('restores hard links between outputs as hard links', async () => {
    // Crafted rather than packed: packTaskArchive (tar's Pack) intermittently fails with "write
    // after end" on hard-linked outputs, a packing problem of the miss path, not of restores.
    const dir = await tempDir();
    const file = join(dir, 'links.tar.gz');
    const content = Buffer.from('same inode');
    await writeCraftedArchive(file, [
      metaEntry(),
      [new Header({ path: 'outputs/dist/', mode: 0o755, size: 0, type: 'Directory', mtime: new Date(0) })],
      [new Header({ path: 'outputs/dist/one.js', mode: 0o644, size: content.length, type: 'File', mtime: new Date(0) }), content],
      [new Header({ path: 'outputs/dist/two.js', mode: 0o644, size: 0, type: 'Link', linkpath: 'outputs/dist/one.js', mtime: new Date(0) })],
    ]);
    const dst = await tempDir();
    await unpack(file, dst);
    expect(await readFile(join(dst, 'dist/two.js'), 'utf8')).toBe('same inode');
    expect((await stat(join(dst, 'dist/two.js'))).ino).toBe((await stat(join(dst, 'dist/one.js'))).ino);
  });

  it('replaces files and links already on disk, never a folder', async () => {
    const src = await tempDir();
    await mkdir(join(src, 'dist'));
    await writeFile(join(src, 'dist/a.js'), 'new');
    await writeFile(join(src, 'dist/b.js'), 'new b');
    const file = join(await tempDir(), 'a.tar.gz');
    await packTaskArchive({ file, pkgDir: src, entries: ['dist', 'dist/a.js', 'dist/b.js'], meta, partSize: 1 << 20 });
    const dst = await tempDir();
    await mkdir(join(dst, 'dist'));
    await writeFile(join(dst, 'dist/a.js'), 'old and longer');
    await symlink('nowhere', join(dst, 'dist/b.js'));
    await unpack(file, dst);
    expect(await readFile(join(dst, 'dist/a.js'), 'utf8')).toBe('new');
    expect((await lstat(join(dst, 'dist/b.js'))).isSymbolicLink()).toBe(false);
    expect(await readFile(join(dst, 'dist/b.js'), 'utf8')).toBe('new b');
    const blocked = await tempDir();
    await mkdir(join(blocked, 'dist/a.js'), { recursive: true });
    await expect(unpack(file, blocked)).rejects.toBeInstanceOf(ArtifactIntegrityError);
    expect((await stat(join(blocked, 'dist/a.js'))).isDirectory()).toBe(true);
  });

  it('refuses a hard link to anything but a file of the archive', async () => {
    const dir = await tempDir();
    const file = join(dir, 'link.tar.gz');
    await writeCraftedArchive(file, [
      metaEntry(),
      [new Header({ path: 'outputs/stolen', mode: 0o644, size: 0, type: 'Link', linkpath: 'outputs/../../secret', mtime: new Date(0) })],
    ]);
    const pkg = join(dir, 'pkg');
    await mkdir(pkg);
    await expect(unpack(file, pkg)).rejects.toThrow('hard link');
    await expect(stat(join(pkg, 'stolen'))).rejects.toThrow();
  });
});
