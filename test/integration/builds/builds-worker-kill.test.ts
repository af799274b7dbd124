import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, pollUntilFinal } from '../../helpers/builds-client.js';
import { compileSources } from '../../helpers/builds-compile.js';
import { redisTestUrl, startBuildGateway, uniquePrefix, workerProcessEnv, type BuildGateway } from '../../helpers/builds-gateway.js';
import { startVeloxStandIn, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { s3TestEnv, uniqueBucket } from '../../helpers/gateway.js';
import { uniqueRequest } from '../../fixtures/builds/requests.js';

/*
 * A real `velocity-worker` process is killed with SIGKILL in the middle of a build, against the
 * suite's real Redis and Ceph RGW. Velox needs Go and the internet, so the builder is a stand-in
 * speaking Velox's Connect JSON wire format (test/helpers/builds-velox-stand-in.ts).
 */
const TOKEN = `token-${randomUUID()}`;
const LOCK_MS = 1500;
let velox: VeloxStandIn;
let gw: BuildGateway;
let workerBin: string;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];
const bucket = uniqueBucket();

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, [workerBin], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM') process.stderr.write(`worker exited ${code}: ${stderr}\n`);
  });
  children.push(child);
  return child;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  const dist = await compileSources();
  workerBin = join(dist, 'bin', 'velocity-worker.js');
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), delayMs: 2500 });
  const prefix = uniquePrefix();
  const builds = { redisUrl: redisTestUrl(), redisPrefix: prefix, veloxUrl: velox.url, lockDuration: LOCK_MS };
  // The gateway runs no worker of its own: only the child processes build.
  gw = await startBuildGateway({ bucket, builds, token: TOKEN, inProcessWorker: false });
  env = {
    ...workerProcessEnv({ bucket, prefix, logLevel: 'warn' }),
    VC_VELOX_URL: velox.url,
    VC_BUILD_LOCK_DURATION: String(LOCK_MS),
    VC_BUILD_INITIAL_DELAY: '50',
  };
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await gw?.close();
  await velox?.close();
});

describe('a worker killed mid-build', () => {
  it('the build completes after a worker restarts, and exactly one artifact exists', async () => {
    const first = startWorker();
    await until('the worker to register', () => gw.runtime.queue.hasWorkers());
    const submitted = await call('POST', `${gw.url}/v1/builds`, TOKEN, uniqueRequest('sigkill'));
    expect(submitted.status).toBe(202);
    const id = String(submitted.body.id);

    await until('the build to start', () => velox.running === 1);
    expect((await call('GET', `${gw.url}/v1/builds/${id}`, TOKEN)).body.status).toBe('building');
    first.kill('SIGKILL');
    await until('the worker to die', () => first.signalCode === 'SIGKILL');

    startWorker();
    const final = await pollUntilFinal(gw.url, id, TOKEN, 40_000);
    expect(final.body).toMatchObject({ status: 'done', id });
    // The killed attempt reached Velox, and the restarted worker asked again.
    expect(velox.calls.length).toBe(2);

    const s3 = new S3Client({ endpoint: s3TestEnv().endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((o) => o.Key ?? '');
    expect(keys.filter((k) => k.includes(String(submitted.body.hash)))).toHaveLength(1);
    s3.destroy();
  });

  it('SIGTERM drains: the running build finishes before the worker exits', async () => {
    const worker = children.at(-1) as ChildProcess;
    const submitted = await call('POST', `${gw.url}/v1/builds`, TOKEN, uniqueRequest('drain'));
    await until('the build to start', () => velox.running === 1);
    worker.kill('SIGTERM');
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    const final = await pollUntilFinal(gw.url, String(submitted.body.id), TOKEN, 20_000);
    expect(final.body.status).toBe('done');
    expect(await exited).toBe(0);
  });
});
