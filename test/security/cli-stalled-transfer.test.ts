import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { archiveMeta, craftArchive } from '../fixtures/cli/crafted-archive.js';
import { CAPABILITIES, hostileGateway, type SeenRequest } from '../fixtures/cli/hostile-gateway.js';
import { gitdir, removeGitdirs, remoteYmlHeader } from '../fixtures/cli/monorepo.js';
import { fastClock, runCli } from '../integration/cli/run-cli.js';

// Issue 9, stalled transfers: a presigned PUT that never answers, or a download trickling a byte
// every couple of seconds, stalled a run for up to 10 minutes. Transfers now have an idle timeout
// and a minimum throughput (defaults: 30 s, 1024 bytes/s over 30 s); then the run goes on without
// the remote, with one warning. The CLI's transfer clock runs 60 times faster here, so the
// defaults themselves are tested in seconds; a run that takes the old 10 minutes fails on the
// jest timeout.

afterAll(removeGitdirs);

const SPEED = 60;
// Enough for the new limits several times over; far short of the old 10 minutes.
jest.setTimeout(30_000);

const repo = (): Promise<string> =>
  gitdir({
    'velocity.yml': [
      ...remoteYmlHeader('tok'),
      'pipeline:',
      '  build:',
      '    command: node build.mjs',
      '    outputs: ["dist/**"]',
      '',
    ].join('\n'),
    'package.json': '{ "name": "root", "private": true }\n',
    'packages/app/package.json': '{ "name": "app", "version": "1.0.0" }\n',
    'packages/app/build.mjs': `import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist', { recursive: true });
writeFileSync('dist/out.js', 'built\\n');
appendFileSync('../../runs.log', 'ran\\n');
`,
  });

const json = (value: unknown): { status: number; body: string } => ({ status: 200, body: JSON.stringify(value) });
const action = (req: SeenRequest): string => (req.body as { action?: string; items?: Array<{ action: string }> }).action ?? (req.body as { items: Array<{ action: string }> }).items[0]?.action ?? '';
const hashOf = (req: SeenRequest): string => (req.body as { hash: string }).hash;

/** Sends `body` in `chunk`-byte pieces every `everyMs` (wall clock), then ends. */
function trickle(res: ServerResponse, body: Buffer, chunk: number, everyMs: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
  let offset = 0;
  const timer = setInterval(() => {
    res.write(body.subarray(offset, offset + chunk));
    offset += chunk;
    if (offset >= body.length) {
      clearInterval(timer);
      res.end();
    }
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}

interface Summary {
  durationMs: number;
  tasks: Array<{ status: string; upload: string | null }>;
}

async function run(gwUrl: string): Promise<{ code: number; summary: Summary; warnings: string[]; dir: string; ms: number }> {
  const dir = await repo();
  const started = Date.now();
  const r = await runCli(['run', 'build', '--json'], { cwd: dir, env: { SEC_REMOTE_URL: gwUrl }, clock: fastClock(SPEED) });
  return {
    code: r.code,
    summary: JSON.parse(r.stdout) as Summary,
    warnings: r.stderr.split('\n').filter((l) => l.startsWith('velocity: warning:')),
    dir,
    ms: Date.now() - started,
  };
}

describe('stalled transfers give up on the remote instead of stalling the run', () => {
  it.each([
    ['a small artifact (downloaded into memory)', 64 * 1024],
    ['a big artifact (streamed to the local cache)', 17 * 1024 * 1024],
  ])('a download trickling a byte at a time: %s', async (_name, size) => {
    // One byte every 200 ms: 12 s apart on the CLI's clock, so never idle for 30 s, but far
    // below 1024 bytes/s.
    const gw = await hostileGateway((req, res) => {
      if (req.path === '/v1/capabilities') return { status: 200, body: CAPABILITIES };
      if (req.path.startsWith('/v1/negotiate')) {
        if (action(req) === 'upload') return json({ status: 'skipped' });
        const found = { status: 'found', url: `http://${req.host}/blob`, expires_at: '2030-01-01T00:00:00Z', size, sha256: 'a'.repeat(64) };
        return req.path.endsWith('/batch') ? json({ results: [found] }) : json(found);
      }
      if (req.path === '/blob') {
        trickle(res, Buffer.alloc(size, 1), 1, 200);
        return 'handled';
      }
      return { status: 404, body: '{}' };
    });
    try {
      const r = await run(gw.url);
      expect(r.code).toBe(0);
      expect(r.summary.tasks[0]?.status).toBe('miss');
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toMatch(/remote cache unavailable, continuing without it: download too slow: .* bytes\/s over the last 3\d s/);
      expect(await readFile(join(r.dir, 'runs.log'), 'utf8')).toBe('ran\n');
      // 30 s of the CLI's clock is half a second here; the old rule waited 10 minutes.
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      await gw.close();
    }
  });

  it('a presigned PUT that never answers', async () => {
    const gw = await hostileGateway((req) => {
      if (req.path === '/v1/capabilities') return { status: 200, body: CAPABILITIES };
      if (req.path.startsWith('/v1/negotiate')) {
        if (action(req) !== 'upload') return req.path.endsWith('/batch') ? json({ results: [{ status: 'missing' }] }) : json({ status: 'missing' });
        const size = (req.body as { size: number }).size;
        return json({ status: 'upload_needed', expires_at: '2030-01-01T00:00:00Z', url: `http://${req.host}/put/${hashOf(req)}`, method: 'PUT', headers: { 'Content-Length': String(size) } });
      }
      // The body is read, the answer never comes.
      if (req.method === 'PUT') return 'handled';
      return { status: 404, body: '{}' };
    });
    try {
      const r = await run(gw.url);
      expect(r.code).toBe(0);
      expect(r.summary.tasks[0]).toMatchObject({ status: 'miss', upload: 'unavailable' });
      expect(r.warnings).toHaveLength(1);
      // The body left at once, then nothing: caught by whichever rule looks first, 30 s in.
      expect(r.warnings[0]).toMatch(/remote cache unavailable, continuing without it: upload (stalled: no data for 3\d(\.\d)? s|too slow: .* over the last 3\d s)/);
      expect(gw.seen.filter((s) => s.method === 'PUT')).toHaveLength(1);
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      await gw.close();
    }
  });

  it('a slow but steady download above the floor completes as a hit', async () => {
    const dir = await repo();
    const dry = await runCli(['run', 'build', '--dry-run', '--json'], { cwd: dir, env: { SEC_REMOTE_URL: 'http://127.0.0.1:1' } });
    const key = (JSON.parse(dry.stdout) as { tasks: Array<{ key: string }> }).tasks[0]!.key;
    // 400 KiB of random (incompressible) output, 4 KiB every 10 ms: about 6.8 KB/s on the CLI's
    // clock for a minute of it, twice the window.
    const archive = craftArchive([archiveMeta('app#build', key), { path: 'outputs/dist/', type: 'Directory' }, { path: 'outputs/dist/pad.bin', body: randomBytes(400 * 1024) }]);
    const sha256 = createHash('sha256').update(archive).digest('hex');
    const gw = await hostileGateway((req, res) => {
      if (req.path.startsWith('/v1/negotiate')) {
        const found = { status: 'found', url: `http://${req.host}/blob`, expires_at: '2030-01-01T00:00:00Z', size: archive.length, sha256 };
        return req.path.endsWith('/batch') ? json({ results: [found] }) : json(found);
      }
      if (req.path === '/blob') {
        trickle(res, archive, 4096, 10);
        return 'handled';
      }
      return { status: 404, body: '{}' };
    });
    try {
      const r = await runCli(['run', 'build', '--json'], { cwd: dir, env: { SEC_REMOTE_URL: gw.url }, clock: fastClock(SPEED) });
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as Summary).tasks[0]?.status).toBe('hit-remote');
      expect(r.stderr).not.toContain('warning');
    } finally {
      await gw.close();
    }
  });
});
