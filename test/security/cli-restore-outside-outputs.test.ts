import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync } from 'node:fs';
import { readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postJson, putBytes } from '../helpers/http.js';
import { archiveMeta, craftArchive, type CraftedEntry } from '../fixtures/cli/crafted-archive.js';
import { gitdir, removeGitdirs, remoteYmlHeader } from '../fixtures/cli/monorepo.js';
import { runCli } from '../integration/cli/run-cli.js';

// Issue 9, item 3: anyone holding cache:write can store an archive under a key the CLI will
// compute. Whatever that archive holds, a restore may only write the task's declared outputs:
// every entry is checked before the first byte is written, on the in-memory and the streamed
// restore paths alike, and a refused archive is a miss with one warning (the task then runs).

afterAll(removeGitdirs);
afterAll(() => rm(absDir, { recursive: true, force: true }));

const SOURCE = 'export const real = true;\n';
const MANIFEST = '{ "name": "app", "version": "1.0.0" }\n';
const BUILD = `import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist', { recursive: true });
writeFileSync('dist/out.js', 'built\\n');
appendFileSync('../../runs.log', 'ran\\n');
`;

const repo = (): Promise<string> =>
  gitdir({
    'velocity.yml': [
      ...remoteYmlHeader('${SEC_REMOTE_TOKEN}'),
      'pipeline:',
      '  build:',
      '    command: node build.mjs',
      '    outputs: ["dist/**"]',
      '    env: [SEC_SALT]',
      '',
    ].join('\n'),
    'package.json': '{ "name": "root", "private": true }\n',
    'packages/app/package.json': MANIFEST,
    'packages/app/src/index.js': SOURCE,
    'packages/app/build.mjs': BUILD,
    'outside/victim.txt': 'untouched\n',
  });

const file = (path: string, body = 'pwned\n', mode = 0o644): CraftedEntry => ({ path, body, mode });
const absDir = mkdtempSync(join(tmpdir(), 'velocity-abs-escape-'));

/** [what the attacker tries, the entries after the harmless-looking ones, a setup on disk]. */
const CASES: Array<[string, () => CraftedEntry[], ((pkg: string) => Promise<void>)?]> = [
  ['files outside the outputs (src/index.js, package.json)', () => [file('outputs/src/index.js'), file('outputs/package.json', '{"name":"pwned"}')]],
  ['an executable node_modules/.bin/tsc', () => [file('outputs/node_modules/.bin/tsc', '#!/bin/sh\necho pwned\n', 0o755)]],
  ['a ../ escape', () => [file('outputs/../../escape.txt')]],
  ['an absolute path', () => [file(join(absDir, 'abs-escape.txt'))]],
  ['an absolute path under outputs/', () => [file(`outputs/${join(absDir, 'abs-escape.txt')}`)]],
  ['a symlink escaping the package', () => [{ path: 'outputs/dist/escape', type: 'SymbolicLink', linkpath: '../../../outside' }]],
  ['a symlink to an absolute path', () => [{ path: 'outputs/dist/etc', type: 'SymbolicLink', linkpath: '/etc' }]],
  ['a write through a symlink of the archive', () => [{ path: 'outputs/dist/sub', type: 'SymbolicLink', linkpath: '../src' }, file('outputs/dist/sub/index.js')]],
  ['a write through a symlink already on disk', () => [file('outputs/dist/planted.js')], (pkg) => symlink('../../outside', join(pkg, 'dist'))],
  ['an entry that turns package.json into a folder', () => [file('outputs/package.json/x')]],
  ['a hard link outside the outputs', () => [file('outputs/dist/planted.js'), { path: 'outputs/src/index.js', type: 'Link', linkpath: 'outputs/dist/planted.js' }]],
  ['a hard link to a file outside the archive', () => [{ path: 'outputs/dist/stolen', type: 'Link', linkpath: 'outputs/../package.json' }]],
  ['a character device', () => [{ path: 'outputs/dist/tty', type: 'CharacterDevice' }]],
  ['a FIFO', () => [{ path: 'outputs/dist/pipe', type: 'FIFO' }]],
];

/** Archives above 16 MiB are streamed: a big incompressible output first forces that path. */
const PATHS: Array<[string, number]> = [
  ['in-memory restore', 0],
  ['streamed restore', 17 * 1024 * 1024],
];

describe.each(PATHS)('a planted archive is refused whole (%s)', (_name, padding) => {
  let gw: TestGateway;
  let salt = 0;
  const big = randomBytes(padding);
  beforeAll(async () => {
    // The suite's RGW when it runs (the jest global setup starts it), else the local driver.
    gw = await startGateway({ driver: process.env.VC_TEST_S3_ENDPOINT ? 's3' : 'local' });
  });
  afterAll(async () => {
    await gw.close();
  });

  /** What an attacker with cache:write does: negotiate an upload for the key, PUT the bytes. */
  async function plant(key: string, bytes: Buffer): Promise<void> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    // md5 too: RGW's integrity mode binds Content-MD5 into the PUT.
    const md5 = createHash('md5').update(bytes).digest('base64');
    const answer = await postJson<{ status: string; url: string; headers: Record<string, string> }>(
      `${gw.url}/v1/negotiate`,
      { hash: key, action: 'upload', namespace: 'default', size: bytes.length, sha256, md5 },
      gw.token,
    );
    expect(answer.body.status).toBe('upload_needed');
    expect((await putBytes(answer.body.url, bytes, answer.body.headers)).status).toBeLessThan(300);
  }

  it.each(CASES.map(([attack, evil, setup]) => ({ attack, evil, setup })))('$attack', async ({ evil, setup }) => {
    const dir = await repo();
    const pkg = join(dir, 'packages/app');
    const env = { SEC_REMOTE_URL: gw.url, SEC_REMOTE_TOKEN: gw.token, SEC_SALT: `${padding}-${Date.now()}-${salt++}` };
    const dry = await runCli(['run', 'build', '--dry-run', '--json'], { cwd: dir, env });
    const key = (JSON.parse(dry.stdout) as { tasks: Array<{ key: string }> }).tasks[0]!.key;

    // Harmless-looking outputs first: a refused archive must not have written them either.
    const entries: CraftedEntry[] = [archiveMeta('app#build', key), { path: 'outputs/dist/', type: 'Directory' }];
    if (padding > 0) entries.push({ path: 'outputs/dist/big.bin', body: big });
    entries.push(file('outputs/dist/early.js', 'planted first\n'), ...evil());
    const bytes = craftArchive(entries);
    expect(bytes.length > 16 * 1024 * 1024).toBe(padding > 0);
    await plant(key, bytes);
    await setup?.(pkg);

    const run = await runCli(['run', 'build', '--json'], { cwd: dir, env });
    const summary = JSON.parse(run.stdout) as { tasks: Array<{ status: string; key: string }> };
    expect(summary.tasks[0]).toMatchObject({ key, status: 'miss' });
    expect(run.code).toBe(0);
    const warnings = run.stderr.split('\n').filter((l) => l.startsWith('velocity: warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('app:build: cached archive is unusable');
    // The task ran instead of replaying the planted logs.
    expect(await readFile(join(dir, 'runs.log'), 'utf8')).toBe('ran\n');
    expect(run.stderr).not.toContain('replayed from a planted archive');

    // Nothing of the archive reached the disk, inside the outputs or out of them.
    expect(await readFile(join(pkg, 'src/index.js'), 'utf8')).toBe(SOURCE);
    expect(lstatSync(join(pkg, 'src/index.js')).nlink).toBe(1);
    expect(await readFile(join(pkg, 'package.json'), 'utf8')).toBe(MANIFEST);
    expect(existsSync(join(pkg, 'node_modules'))).toBe(false);
    expect(existsSync(join(dir, 'escape.txt'))).toBe(false);
    expect(existsSync(join(dir, 'packages/escape.txt'))).toBe(false);
    expect(existsSync(join(absDir, 'abs-escape.txt'))).toBe(false);
    expect(await readFile(join(dir, 'outside/victim.txt'), 'utf8')).toBe('untouched\n');
    for (const planted of ['early.js', 'big.bin', 'planted.js', 'escape', 'etc', 'sub', 'stolen', 'tty', 'pipe']) {
      expect([planted, existsSync(join(pkg, 'dist', planted)) || lstatSync(join(pkg, 'dist', planted), { throwIfNoEntry: false }) !== undefined]).toEqual([planted, false]);
    }
    // Only what the real build wrote is there (through the symlink on disk, in that case, next
    // to the victim).
    expect((await readdir(join(pkg, 'dist'))).sort()).toEqual(setup ? ['out.js', 'victim.txt'] : ['out.js']);
  });
});
