import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { Agent, request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueHash } from '../helpers/artifacts.js';

/**
 * Issue 9, "Also fix": on SIGTERM with busy keep-alive connections the gateway served 31,728 more
 * requests and reset 11 in flight at the deadline. The real process, real keep-alive agents:
 * after the signal every answer says `Connection: close` (at most one per connection), requests
 * in flight finish, and the process exits as soon as its connections are gone, long before the
 * drain deadline.
 */
const BIN = join(process.cwd(), 'dist', 'bin', 'velocity-gateway.js');
const GRACE_SECONDS = 20;
const TOKEN = 'drain-test-token-0123456789';

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly socket: Socket;
}

function get(base: string, path: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent });
    req.on('error', reject);
    req.on('response', (res) => answer(res, req, resolve));
    req.end();
  });
}

function answer(res: IncomingMessage, req: ClientRequest, resolve: (a: Answer) => void): void {
  res.resume();
  res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, socket: req.socket! }));
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('SIGTERM with busy keep-alive connections', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
  });

  it('answers with Connection: close, lets in-flight requests finish, exits once connections are gone', async () => {
    const port = 23000 + Math.floor(Math.random() * 900);
    const base = `http://127.0.0.1:${port}`;
    const root = await mkdtemp(join(tmpdir(), 'vc-drain-'));
    const proc = spawn(process.execPath, [BIN], {
      env: {
        PATH: process.env.PATH ?? '',
        VC_PORT: String(port),
        VC_HOST: '127.0.0.1',
        VC_LOCAL_ROOT: root,
        VC_AUTH_TOKEN: TOKEN,
        VC_SHUTDOWN_GRACE: String(GRACE_SECONDS),
        VC_LOG_LEVEL: 'info',
      },
    });
    child = proc;
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    expect(await waitFor(() => /listening/.test(out), 15_000)).toBe(true);

    // Busy clients: keep-alive loops on /readyz, which answers 503 once draining.
    const loopAgent = new Agent({ keepAlive: true, maxSockets: 6 });
    const answers: Answer[] = [];
    const loopErrors: string[] = [];
    let stop = false;
    const loops = Array.from({ length: 6 }, async () => {
      while (!stop) {
        try {
          answers.push(await get(base, '/readyz', loopAgent));
        } catch (err) {
          loopErrors.push((err as NodeJS.ErrnoException).code ?? String(err));
          return;
        }
      }
    });

    // In flight at the signal: half a body sent, the rest after.
    const inflightAgent = new Agent({ keepAlive: true, maxSockets: 2 });
    const inflight = Array.from({ length: 2 }, () => {
      const body = Buffer.from(JSON.stringify({ hash: uniqueHash(), action: 'download' }));
      const req = request(`${base}/v1/negotiate`, {
        method: 'POST',
        agent: inflightAgent,
        headers: { 'content-type': 'application/json', 'content-length': String(body.length), authorization: `Bearer ${TOKEN}` },
      });
      const done = new Promise<Answer>((resolve, reject) => {
        req.on('error', reject);
        req.on('response', (res) => answer(res, req, resolve));
      });
      req.write(body.subarray(0, 10));
      return { finish: () => req.end(body.subarray(10)), done };
    });

    expect(await waitFor(() => answers.length >= 300, 10_000)).toBe(true);
    const beforeSignal = answers.length;
    const signalled = Date.now();
    proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const r of inflight) r.finish();
    const finished = await Promise.all(inflight.map((r) => r.done));
    let cap: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<'still running'>((r) => (cap = setTimeout(() => r('still running'), 8000)))]);
    clearTimeout(cap);
    const exitMs = Date.now() - signalled;
    stop = true;
    await Promise.all(loops);
    loopAgent.destroy();
    inflightAgent.destroy();

    // In flight at the signal: answered in full, and told to go elsewhere.
    for (const f of finished) expect([f.status, f.connection]).toEqual([200, 'close']);
    // Every draining answer says close, and no connection got more than one.
    const draining = answers.slice(beforeSignal).filter((a) => a.status === 503);
    for (const a of draining) expect(a.connection).toBe('close');
    const perSocket = new Map<Socket, number>();
    for (const a of draining) perSocket.set(a.socket, (perSocket.get(a.socket) ?? 0) + 1);
    expect(Math.max(0, ...perSocket.values())).toBeLessThanOrEqual(1);
    // How many loops meet a draining answer depends on timing (a loop whose connection sat idle for
    // the 100 ms sweep under a loaded machine finds it closed and ends on ECONNREFUSED instead), so
    // the count is not asserted; the requests in flight above always meet one.
    // Nothing is reset: a loop ends only when, told to close, it opens a new connection and the
    // listener is gone.
    expect(loopErrors).toEqual(loopErrors.map(() => 'ECONNREFUSED'));
    // Exits once the connections are gone, not at the deadline.
    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(5000);
  }, 40_000);
});
