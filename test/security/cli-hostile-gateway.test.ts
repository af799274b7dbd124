import { afterAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CAPABILITIES, hostileGateway, type SeenRequest } from '../fixtures/cli/hostile-gateway.js';
import { gitdir, removeGitdirs, remoteYmlHeader } from '../fixtures/cli/monorepo.js';
import { runCli } from '../integration/cli/run-cli.js';

// Issue 9, "the CLI and a misbehaving gateway": `{"results":[null]}`, a `found` with a numeric
// sha256, or `multipart.parts: null` crashed the run with "unexpected error" (exit 1). Every
// answer is validated; garbage means the remote is unavailable: one warning, the tasks run, and
// the run exits by the tasks' result.

afterAll(removeGitdirs);

const BUILD = `import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist', { recursive: true });
writeFileSync('dist/out.js', 'built\\n');
appendFileSync('../../runs.log', process.cwd().split('/').pop() + '\\n');
process.exit(Number(process.env.SEC_EXIT ?? '0'));
`;

// Two packages, so download negotiation goes through the batch endpoint.
const repo = (): Promise<string> =>
  gitdir({
    'velocity.yml': [
      ...remoteYmlHeader('tok'),
      'pipeline:',
      '  build:',
      '    command: node ../../build.mjs',
      '    outputs: ["dist/**"]',
      '    env: [SEC_EXIT]',
      '',
    ].join('\n'),
    'package.json': '{ "name": "root", "private": true }\n',
    'build.mjs': BUILD,
    'packages/a/package.json': '{ "name": "a", "version": "1.0.0" }\n',
    'packages/b/package.json': '{ "name": "b", "version": "1.0.0" }\n',
  });

type Answer = { status: number; body: string };
const json = (value: unknown): Answer => ({ status: 200, body: JSON.stringify(value) });
const items = (req: SeenRequest): Array<{ hash: string; action: string }> => (req.body as { items: Array<{ hash: string; action: string }> }).items;

/** A gateway that answers every download negotiation with `download` and every upload one with `upload`. */
function scripted(download: (req: SeenRequest) => Answer, upload: (req: SeenRequest) => Answer, caps: Answer = { status: 200, body: CAPABILITIES }) {
  return hostileGateway((req) => {
    if (req.path === '/v1/capabilities') return caps;
    if (req.path === '/v1/negotiate/batch') return items(req)[0]?.action === 'upload' ? upload(req) : download(req);
    if (req.path === '/v1/negotiate') return (req.body as { action: string }).action === 'upload' ? upload(req) : download(req);
    // Ten bytes, as the found answers announce: the digest check is reached.
    if (req.path.startsWith('/blob/')) return { status: 200, body: '0123456789' };
    return { status: 404, body: '{}' };
  });
}

const missing = (req: SeenRequest): Answer => (req.path.endsWith('/batch') ? json({ results: items(req).map(() => ({ status: 'missing' })) }) : json({ status: 'missing' }));
const stored = (req: SeenRequest): Answer => (req.path.endsWith('/batch') ? json({ results: items(req).map(() => ({ status: 'skipped' })) }) : json({ status: 'skipped' }));
const found = (extra: Record<string, unknown>) => (req: SeenRequest): Answer => {
  const one = { status: 'found', url: `http://${req.host}/blob/x`, expires_at: '2030-01-01T00:00:00Z', size: 10, sha256: 'a'.repeat(64), ...extra };
  return req.path.endsWith('/batch') ? json({ results: items(req).map(() => one) }) : json(one);
};
const uploadNeeded = (extra: Record<string, unknown>) => (): Answer => json({ status: 'upload_needed', expires_at: '2030-01-01T00:00:00Z', ...extra });

const CASES: Array<[string, () => ReturnType<typeof scripted>]> = [
  ['{"results":[null]}', () => scripted(() => json({ results: [null, null] }), stored)],
  ['results that are not a list', () => scripted(() => json({ results: 'many' }), stored)],
  ['a found answer with a numeric sha256', () => scripted(found({ sha256: 12345 }), stored)],
  ['a found answer with a negative size and no URL', () => scripted(found({ size: -1, url: undefined }), stored)],
  ['a found answer pointing at a file: URL', () => scripted(found({ url: 'file:///etc/passwd' }), stored)],
  ['an unknown status', () => scripted(() => json({ results: [{ status: 'maybe' }, { status: 'maybe' }] }), stored)],
  ['an answer that is not JSON', () => scripted(() => ({ status: 200, body: '<html>proxy login</html>' }), stored)],
  ['JSON null', () => scripted(() => ({ status: 200, body: 'null' }), stored)],
  ['multipart.parts: null', () => scripted(missing, uploadNeeded({ multipart: { upload_id: 'u1', parts: null } }))],
  ['an upload answer with neither a URL nor parts', () => scripted(missing, uploadNeeded({}))],
  ['upload headers that are not strings', () => scripted(missing, uploadNeeded({ url: 'http://127.0.0.1:1/put', headers: { 'content-length': 5 } }))],
  ['capabilities of the wrong shape', () => scripted(missing, uploadNeeded({ url: 'http://127.0.0.1:1/put', headers: {} }), json({ driver: 1, integrity: 'crc' }))],
];

describe('a gateway answering garbage is an unavailable remote, never a crash', () => {
  it.each(CASES.map(([answer, start]) => ({ answer, start })))('$answer', async ({ start }) => {
    const gw = await start();
    try {
      const dir = await repo();
      const run = await runCli(['run', 'build', '--json'], { cwd: dir, env: { SEC_REMOTE_URL: gw.url, SEC_EXIT: '0' } });
      expect(run.stderr).not.toContain('unexpected error');
      expect(run.code).toBe(0);
      const summary = JSON.parse(run.stdout) as { remote: { enabled: boolean; problem: string | null }; tasks: Array<{ status: string }> };
      expect(summary.tasks.map((t) => t.status)).toEqual(['miss', 'miss']);
      expect(summary.remote.enabled).toBe(false);
      const warnings = run.stderr.split('\n').filter((l) => l.startsWith('velocity: warning:'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('remote cache unavailable');
      expect((await readFile(join(dir, 'runs.log'), 'utf8')).split('\n').filter(Boolean).sort()).toEqual(['a', 'b']);
    } finally {
      await gw.close();
    }
  });

  it("exits with the tasks' own result when they fail", async () => {
    const gw = await scripted(() => json({ results: [null, null] }), stored);
    try {
      const dir = await repo();
      const run = await runCli(['run', 'build', '--json'], { cwd: dir, env: { SEC_REMOTE_URL: gw.url, SEC_EXIT: '4' } });
      expect(run.stderr).not.toContain('unexpected error');
      expect(run.code).toBe(4);
    } finally {
      await gw.close();
    }
  });
});
