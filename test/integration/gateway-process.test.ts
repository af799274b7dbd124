import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Router } from '@koa/router';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { startGateway } from '../helpers/gateway.js';
import { getBytes, postJson, putBytes } from '../helpers/http.js';
import { ENV_PATHS } from '../../src/config/schema.js';
import type { GatewayState } from '../../src/gateway/state.js';

const BIN = join(process.cwd(), 'dist', 'bin', 'velocity-gateway.js');

interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('velocity-gateway as a process', () => {
  const procs: Proc[] = [];
  afterEach(() => {
    for (const p of procs.splice(0)) p.child.kill('SIGKILL');
  });

  it('starts with nothing configured, never open: it generates a token and shows it once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'vc-bin-'));
    const port = 20000 + Math.floor(Math.random() * 900);
    const p = run({ VC_PORT: String(port), VC_HOST: '127.0.0.1', VC_LOCAL_ROOT: root, VC_LOG_LEVEL: 'debug' });
    procs.push(p);
    await waitFor(() => /listening/.test(p.stdout()));
    const token = /\b(vc_[A-Za-z0-9_-]{20,})/.exec(p.stderr())?.[1];
    expect(token).toBeDefined();
    const url = `http://127.0.0.1:${port}`;
    expect((await postJson(`${url}/v1/negotiate`, { hash: 'h', action: 'download' })).status).toBe(401);
    const a = artifact();
    const hash = uniqueHash();
    const up = await postJson(`${url}/v1/negotiate`, { hash, action: 'upload', size: a.size, sha256: a.sha256 }, token);
    expect((await putBytes(up.body.url as string, a.body, up.body.headers as Record<string, string>)).status).toBe(200);
    const down = await postJson(`${url}/v1/negotiate`, { hash, action: 'download' }, token);
    expect((await getBytes(down.body.url as string)).body.equals(a.body)).toBe(true);

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    // Secrets stay out of the logs, even at debug level.
    const logs = p.stdout();
    expect(logs).toMatch(/"path":"\/v1\/negotiate"/);
    expect(logs).not.toContain(token!);
    expect(logs).not.toMatch(/sig=|X-Amz-Signature/);
    expect(p.stderr().split(token!).length - 1).toBe(1);
  });

  it('answers --help on stdout with every VC_ variable it reads, and --version', async () => {
    const help = run({}, ['--help']);
    procs.push(help);
    expect(await help.exited).toBe(0);
    expect(help.stdout()).toMatch(/^Usage: velocity-gateway /);
    for (const [name, path] of Object.entries(ENV_PATHS)) expect(help.stdout()).toMatch(new RegExp(`\\b${name}\\s+${path.replace(/\./g, '\\.')}\\n`));
    const version = run({}, ['--version']);
    procs.push(version);
    expect(await version.exited).toBe(0);
    const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout().trim()).toBe(pkg.version);
  });

  it('refuses to start on invalid configuration, listing every problem', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vc-bin-'));
    const file = join(dir, 'gw.yml');
    await writeFile(file, 'storage:\n  driver: s3\n');
    const p = run({ VC_PORT: 'http', VC_S3_INTEGRITY: 'crc' }, ['--config', file]);
    procs.push(p);
    expect(await p.exited).toBe(2);
    const err = p.stderr();
    expect(err).toMatch(/invalid configuration/);
    expect(err).toMatch(/port \(VC_PORT\)/);
    expect(err).toMatch(/storage\.s3\.integrity \(VC_S3_INTEGRITY\)/);
    expect(err).toMatch(/storage\.s3\.bucket \(VC_S3_BUCKET\): required/);
  });
});

describe('graceful shutdown', () => {
  it('lets in-flight requests finish, refuses new connections, and reports draining', async () => {
    let release: () => void = () => undefined;
    const gw = await startGateway({
      driver: 'local',
      extend: () =>
        Promise.resolve({
          extraRouters: [
            () => {
              const r = new Router<GatewayState>();
              r.get('/test/slow', async (ctx) => {
                await new Promise<void>((resolve) => (release = resolve));
                ctx.body = { done: true };
              });
              return r;
            },
          ],
        }),
    });
    const inflight = getBytes(`${gw.url}/test/slow`);
    await new Promise((r) => setTimeout(r, 100));
    const closing = gw.close();
    await new Promise((r) => setTimeout(r, 100));
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
    release();
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ done: true });
    await closing;
  });
});
