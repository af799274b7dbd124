import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call } from '../../helpers/builds-client.js';
import { compileSources } from '../../helpers/builds-compile.js';
import { redisTestUrl, startBuildGateway, uniquePrefix, workerProcessEnv, type BuildGateway } from '../../helpers/builds-gateway.js';
import { uniqueBucket } from '../../helpers/gateway.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * A real `velocity-worker` process with the command builder, against the suite's Redis and Ceph
 * RGW: what is left after it is killed (processes, folders, its job), how long its SIGTERM takes,
 * and what a scraper sees of it. The build command records its process group id ($$: the shell
 * is the group's leader) and leaves a background child, as real builds (go, compilers) do.
 */
const TOKEN = `token-${randomUUID()}`;
const METRICS_TOKEN = `metrics-${randomUUID()}`;
const LOCK_MS = 1000;
const COMMAND = 'echo "$VELOCITY_BUILD_KEY" > "$VELOCITY_WORK_DIR/key"; echo $$ > "$VELOCITY_WORK_DIR/pgid"; if [ -n "$SLOW" ]; then sleep 60 & sleep 60; fi; printf binary > "$VELOCITY_OUTPUT"';
let gw: BuildGateway;
let workerBin: string;
let workDir: string;
const children: ChildProcess[] = [];
const bucket = uniqueBucket();
const prefix = uniquePrefix();

interface Worker {
  readonly child: ChildProcess;
  /** The port of its /healthz, /readyz, /metrics, /stats, from its start-up log line. */
  readonly port: Promise<number>;
}

function startWorker(extra: Record<string, string>): Worker {
  const env = {
    ...workerProcessEnv({ bucket, prefix }),
    VC_BUILD_COMMAND: COMMAND,
    VC_BUILD_WORK_DIR: workDir,
    VC_BUILD_LOCK_DURATION: String(LOCK_MS),
    VC_METRICS_TOKEN: METRICS_TOKEN,
    ...extra,
  };
  const child = spawn(process.execPath, [workerBin], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const port = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"port":(\d+)[^\n]*velocity-worker taking builds/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`worker exited before listening: ${out}`)));
  });
  port.catch(() => undefined);
  return { child, port };
}

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A build's folder under VC_BUILD_WORK_DIR and its process group, once its command has started. */
async function runningBuild(key: string): Promise<{ dir: string; pgid: number }> {
  return until('the build command to start', async () => {
    for (const name of await readdir(workDir).catch(() => [])) {
      const dir = join(workDir, name);
      const [k, pgid] = await Promise.all(['key', 'pgid'].map((f) => readFile(join(dir, f), 'utf8').catch(() => '')));
      if (k?.trim() === key && pgid?.trim()) return { dir, pgid: Number(pgid.trim()) };
    }
    return undefined;
  });
}

/** Every live process in a process group, from /proc (field 5 of /proc/<pid>/stat is the group). */
async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state: a zombie is dead already, only waiting for its parent.
    if (fields[0] !== 'Z' && Number(fields[2]) === pgid) members.push(Number(pid));
  }
  return members;
}

async function state(id: string): Promise<string> {
  return String((await call('GET', `${gw.url}/v1/builds/${id}`, TOKEN)).body.status);
}

beforeAll(async () => {
  workerBin = join(await compileSources(process.cwd(), 'worker-ops-dist'), 'bin', 'velocity-worker.js');
  workDir = join(tmpdir(), `vc-worker-ops-${randomUUID()}`);
  await mkdir(workDir, { recursive: true });
  // The gateway runs no worker: only the child processes build. Its stalled check runs every
  // lock duration, so a vanished worker's build is back within about two of them.
  gw = await startBuildGateway({ bucket, builds: { redisUrl: redisTestUrl(), redisPrefix: prefix, lockDuration: LOCK_MS }, token: TOKEN, inProcessWorker: false });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await gw?.close();
});

describe('velocity-worker operations', () => {
  it('SIGKILL: the build\'s processes and folder go with the worker, and its job is queued again with no worker alive', async () => {
    const worker = startWorker({ SLOW: '1', VC_BUILD_ENV: 'SLOW' });
    await worker.port;
    const submitted = await call('POST', `${gw.url}/v1/builds`, TOKEN, uniqueRequest(`ops-kill-${randomUUID()}`));
    const id = String(submitted.body.id);
    const build = await runningBuild(String(submitted.body.hash));
    // The shell, the background sleep and the foreground sleep.
    expect((await groupMembers(build.pgid)).length).toBeGreaterThanOrEqual(2);
    expect(await state(id)).toBe('building');

    worker.child.kill('SIGKILL');
    await until('the build process group to die', async () => ((await groupMembers(build.pgid)).length === 0 ? true : undefined), 5000);
    await until('the build folder to go', async () => ((await readdir(build.dir).catch(() => null)) === null ? true : undefined), 5000);

    const killedAt = Date.now();
    await until('the job to be queued again', async () => ((await state(id)) === 'queued' ? true : undefined), 4 * LOCK_MS + 2000);
    // Bounded by the lock duration and the stalled check's period (both LOCK_MS), not by a worker.
    expect(Date.now() - killedAt).toBeLessThan(4 * LOCK_MS + 2000);
  });

  it('SIGTERM returns within the shutdown grace and hands the running build back', async () => {
    const worker = startWorker({ SLOW: '1', VC_BUILD_ENV: 'SLOW', VC_SHUTDOWN_GRACE: '1', VC_BUILD_LOCK_DURATION: '60000' });
    await worker.port;
    // The killed worker's build from the test before runs here too (two slots): each has its folder.
    const submitted = await call('POST', `${gw.url}/v1/builds`, TOKEN, uniqueRequest(`ops-term-${randomUUID()}`));
    const id = String(submitted.body.id);
    await until('this build to run', async () => ((await state(id)) === 'building' ? true : undefined));
    const build = await runningBuild(String(submitted.body.hash));

    const exited = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
    const termAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The grace (1 s) plus stopping the build and closing connections; not the build's 60 s.
    expect(Date.now() - termAt).toBeLessThan(4000);
    // Handed back at once: the lock (60 s) has not lapsed, so no stalled check explains it.
    expect(await state(id)).toBe('queued');
    expect(await groupMembers(build.pgid)).toEqual([]);
  });

  it('a separate worker\'s /stats and /metrics are scraped with the metrics token', async () => {
    const worker = startWorker({ VC_BUILD_MIN_SLOTS: '1', VC_BUILD_CONCURRENCY: '3' });
    const base = `http://127.0.0.1:${await worker.port}`;
    // The builds queued by the tests before finish quickly now (no SLOW): wait for all of them.
    const submitted = await call('POST', `${gw.url}/v1/builds`, TOKEN, uniqueRequest(`ops-stats-${randomUUID()}`));
    await until('the build to finish', async () => ((await state(String(submitted.body.id))) === 'done' ? true : undefined));

    expect((await fetch(`${base}/stats`)).status).toBe(401);
    const auth = { headers: { authorization: `Bearer ${METRICS_TOKEN}` } };
    const stats = (await (await fetch(`${base}/stats`, auth)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({ draining: false, min: 1, max: 3, busy: 0, recycled: 0 });
    expect(stats.buildsDone).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${base}/metrics`, auth)).text();
    expect(Number(/vc_builds_total\{result="success"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    worker.child.kill('SIGTERM');
  });
});
