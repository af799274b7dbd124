#!/usr/bin/env node
// Client protocols, measured against references doing the same work, in one run.
//
//   npm run bench:clients                 (builds first)
//   BENCH_PACKAGES=20 BENCH_OUTPUT_MB=8 BENCH_HIT_REPEAT=3 BENCH_STREAM_MB=1024 node bench/clients.mjs
//
// 1. turbo against two remote caches on the same Ceph RGW (separate buckets): velocity-gateway
//    (S3 driver; turbo's GETs answered with a 302 to a presigned URL, so the bytes go from the store
//    to turbo) and turborepo-remote-cache (S3 provider; bytes stream through it). One generated
//    monorepo whose every build writes BENCH_OUTPUT_MB of incompressible output. Each cache is
//    filled by one all-miss run; then, after one untimed all-hit run each, BENCH_HIT_REPEAT all-hit
//    runs per cache, interleaved, each
//    from a clean local state (outputs, .turbo, node_modules/.cache removed). Reported: median
//    all-hit wall time, and each server's CPU time over its all-hit runs per GB of artifacts
//    turbo downloaded (the artifacts' stored size x runs). Target: velocity at most 0.01x.
// 2. The streaming path (clients that cannot follow a redirect): a BENCH_STREAM_MB artifact PUT
//    through /http/ on a gateway with the local driver, then GET with curl into /dev/null, against
//    a bare node:http server piping the same file to the socket (bench/lib/file-server.mjs). Both
//    servers pinned to one core, curl to the other. Target: at least 0.8 of the raw copy.
// The load average is printed before and after: the figures mean little on a busy machine.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { generateMonorepo, pkgName } from './lib/cli-monorepo.mjs';
import { cpuMs, gatewayArgs, median, spawnPinned, stopAll, waitForHttp } from './lib/processes.mjs';
import { startRgw } from './lib/rgw.mjs';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..');
const PACKAGES = Number(process.env.BENCH_PACKAGES ?? 20);
const OUTPUT_MB = Number(process.env.BENCH_OUTPUT_MB ?? 8);
const HIT_REPEAT = Number(process.env.BENCH_HIT_REPEAT ?? 3);
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 1024);
const TURBO = join(REPO, 'node_modules', '.bin', 'turbo');
const SERVER_CORE = 1;
const CLIENT_CORE = 0;
if (!existsSync(join(REPO, 'dist/bin/velocity-gateway.js'))) throw new Error('run `npm run build` first (npm run bench:clients does)');

const token = randomBytes(24).toString('hex');
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loadBefore = load();
const work = await mkdtemp(join(tmpdir(), 'velocity-bench-clients-'));
process.on('exit', () => { stopAll(); execFileSync('rm', ['-rf', work]); });

/** CPU time (user + system, seconds) a process has used so far. */
const cpuSeconds = (pid) => cpuMs(pid) / 1000;

// ---------------------------------------------------------------- 1. turbo, two caches, one store
const rgw = startRgw(REPO, 27680);
const s3 = new S3Client({
  endpoint: rgw.VC_TEST_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: rgw.AWS_ACCESS_KEY_ID, secretAccessKey: rgw.AWS_SECRET_ACCESS_KEY },
});
await s3.send(new CreateBucketCommand({ Bucket: 'bench-turbo-ref' }));

const velocity = spawnPinned(SERVER_CORE, process.execPath, gatewayArgs(REPO), {
  env: {
    PATH: process.env.PATH, VC_PORT: '28180', VC_HOST: '127.0.0.1', VC_AUTH_TOKEN: token, VC_LOG_LEVEL: 'warn',
    VC_STORAGE_DRIVER: 's3', VC_S3_ENDPOINT: rgw.VC_TEST_S3_ENDPOINT, VC_S3_BUCKET: 'bench-velocity', VC_S3_FORCE_PATH_STYLE: 'true',
    VC_S3_CREATE_BUCKET: 'true', VC_S3_INTEGRITY: 'md5', AWS_ACCESS_KEY_ID: rgw.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: rgw.AWS_SECRET_ACCESS_KEY, AWS_REGION: 'us-east-1',
  },
});
const reference = spawnPinned(SERVER_CORE, process.execPath, [join(REPO, 'node_modules/turborepo-remote-cache/dist/cli.js')], {
  env: {
    PATH: process.env.PATH, PORT: '28181', HOST: '127.0.0.1', TURBO_TOKEN: token, LOG_LEVEL: 'warn', ENABLE_STATUS_LOG: 'false',
    STORAGE_PROVIDER: 's3', STORAGE_PATH: 'bench-turbo-ref', S3_ACCESS_KEY: rgw.AWS_ACCESS_KEY_ID, S3_SECRET_KEY: rgw.AWS_SECRET_ACCESS_KEY,
    S3_REGION: 'us-east-1', S3_ENDPOINT: rgw.VC_TEST_S3_ENDPOINT, BODY_LIMIT: String(1024 * 1024 * 1024),
  },
});
const servers = {
  velocity: { url: 'http://127.0.0.1:28180', child: velocity, bucket: 'bench-velocity' },
  'turborepo-remote-cache': { url: 'http://127.0.0.1:28181', child: reference, bucket: 'bench-turbo-ref' },
};
await waitForHttp(`${servers.velocity.url}/readyz`).catch(() => { throw new Error(`velocity-gateway not ready:\n${velocity.output()}`); });
await waitForHttp(`${servers['turborepo-remote-cache'].url}/v8/artifacts/status`).catch(() => { throw new Error(`turborepo-remote-cache not ready:\n${reference.output()}`); });

const mono = join(work, 'mono');
await generateMonorepo(mono, { packages: PACKAGES, width: 5 });
// Every build also writes incompressible output, so the artifacts are what a cache moves.
await writeFile(join(mono, 'scripts', 'blob.mjs'), `import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
const name = process.cwd().split(/[\\\\/]/).pop();
const chunks = [];
let block = createHash('sha512').update(name).digest();
for (let n = 0; n < ${OUTPUT_MB} * 1024 * 1024; n += block.length) { chunks.push(block); block = createHash('sha512').update(block).digest(); }
mkdirSync('dist', { recursive: true });
writeFileSync('dist/blob.bin', Buffer.concat(chunks));
`);
for (let i = 0; i < PACKAGES; i++) {
  const file = join(mono, 'packages', pkgName(i), 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  pkg.scripts.build = 'node ../../scripts/build.mjs && node ../../scripts/blob.mjs';
  await writeFile(file, JSON.stringify(pkg, null, 2));
}
await run('git', ['init', '-q'], { cwd: mono });
await run('git', ['-c', 'user.email=bench@example.invalid', '-c', 'user.name=bench', 'commit', '-qm', 'bench', '--allow-empty'], { cwd: mono });

async function wipe() {
  const targets = [join(mono, '.turbo'), join(mono, 'node_modules', '.cache')];
  for (let i = 0; i < PACKAGES; i++) targets.push(join(mono, 'packages', pkgName(i), 'dist'), join(mono, 'packages', pkgName(i), '.turbo'));
  await Promise.all(targets.map((t) => rm(t, { recursive: true, force: true })));
}

async function turbo(server) {
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME ?? work, TURBO_API: server.url, TURBO_TOKEN: token, TURBO_TEAM: 'team_bench',
    TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1', TURBO_PRINT_VERSION_DISABLED: '1', DO_NOT_TRACK: '1',
  };
  const t0 = performance.now();
  const { stdout } = await run('taskset', ['-c', String(CLIENT_CORE), TURBO, 'run', 'build', '--concurrency=10', '--no-daemon', '--output-logs=hash-only'], { cwd: mono, env, maxBuffer: 64 << 20 });
  return { ms: performance.now() - t0, stdout };
}

/** Bytes of the artifacts a cache holds (every object but the gateway's private documents). */
async function storedBytes(bucket) {
  let bytes = 0;
  let token;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (!o.Key.startsWith('system/')) bytes += o.Size ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  return bytes;
}

const turboResults = {};
for (const [name, server] of Object.entries(servers)) {
  await wipe();
  const miss = await turbo(server);
  if (!/0 cached, \d+ total/.test(miss.stdout)) throw new Error(`${name}: the first run was not all misses:\n${miss.stdout.slice(-2000)}`);
  turboResults[name] = { walls: [], cpu: 0, artifactBytes: await storedBytes(server.bucket) };
}
// One untimed all-hit run per cache first: both servers' JIT warms up on the very requests measured.
for (const server of Object.values(servers)) {
  await wipe();
  await turbo(server);
}
/** The gateway's answered requests by route and status class (its /metrics), to say what the CPU paid for. */
async function gatewayRequests() {
  const text = await (await fetch(`${servers.velocity.url}/metrics`)).text();
  const counts = new Map();
  for (const m of text.matchAll(/^vc_http_requests_total\{([^}]*)\} (\d+)/gm)) counts.set(m[1], Number(m[2]));
  return counts;
}
const requestsBefore = await gatewayRequests();
for (let i = 0; i < HIT_REPEAT; i++) {
  const order = i % 2 === 0 ? Object.keys(servers) : Object.keys(servers).reverse();
  for (const name of order) {
    await wipe();
    const pid = servers[name].child.pid;
    const before = cpuSeconds(pid);
    const hit = await turbo(servers[name]);
    turboResults[name].cpu += cpuSeconds(pid) - before;
    if (!/FULL TURBO/.test(hit.stdout)) throw new Error(`${name}: the all-hit run was not all hits:\n${hit.stdout.slice(-2000)}`);
    turboResults[name].walls.push(hit.ms);
  }
}
for (const r of Object.values(turboResults)) r.cpuPerGb = r.cpu / ((r.artifactBytes * HIT_REPEAT) / 1e9);
const requestsAfter = await gatewayRequests();
const answered = [...requestsAfter].map(([labels, n]) => [labels, n - (requestsBefore.get(labels) ?? 0)]).filter(([, n]) => n > 0);
velocity.kill('SIGTERM');
reference.kill('SIGTERM');
rgw.stop();

const turboVersion = execFileSync(TURBO, ['--version']).toString().trim();
const v = turboResults.velocity;
const d = turboResults['turborepo-remote-cache'];
const mib = (b) => (b / 1048576).toFixed(0);
console.log(`\nturbo ${turboVersion}, ${PACKAGES} packages x ${OUTPUT_MB} MiB of output, ${HIT_REPEAT} all-hit runs per cache (interleaved), both caches on one Ceph RGW`);
console.log('cache                      all-hit ms (median)   server CPU s   artifacts MiB   CPU s per GB served');
for (const [name, r] of Object.entries(turboResults)) {
  console.log(`${name.padEnd(26)} ${median(r.walls).toFixed(0).padStart(19)}   ${r.cpu.toFixed(2).padStart(12)}   ${mib(r.artifactBytes).padStart(13)}   ${r.cpuPerGb.toFixed(3).padStart(19)}`);
}
const cpuRatio = v.cpuPerGb / d.cpuPerGb;
console.log(`velocity-gateway answered during its timed all-hit runs: ${answered.map(([labels, n]) => `${n} x ${labels}`).join('; ')}`);
console.log(`all-hit wall time, velocity / turborepo-remote-cache: ${(median(v.walls) / median(d.walls)).toFixed(3)}x`);
console.log(`server CPU per GB served, velocity / turborepo-remote-cache: ${cpuRatio.toFixed(4)}x (target at most 0.01x: ${cpuRatio <= 0.01 ? 'met' : 'NOT met'})`);

// ---------------------------------------------------------------- 2. the streaming path
const file = join(work, 'stream.bin');
await new Promise((resolveWrite, reject) => {
  const out = createWriteStream(file);
  const block = randomBytes(1024 * 1024);
  let i = 0;
  const next = () => {
    while (i < STREAM_MB) {
      i++;
      if (!out.write(block)) return out.once('drain', next);
    }
    out.end(resolveWrite);
  };
  out.on('error', reject);
  next();
});
const streamGw = spawnPinned(SERVER_CORE, process.execPath, gatewayArgs(REPO), {
  env: {
    PATH: process.env.PATH, VC_PORT: '28182', VC_HOST: '127.0.0.1', VC_AUTH_TOKEN: token, VC_LOG_LEVEL: 'warn',
    VC_LOCAL_ROOT: join(work, 'gw-local'), VC_MAX_ARTIFACT_SIZE: String((STREAM_MB + 1) * 1024 * 1024),
  },
});
const fileServer = spawnPinned(SERVER_CORE, process.execPath, [join(REPO, 'bench/lib/file-server.mjs'), '28183', file]);
await waitForHttp('http://127.0.0.1:28182/readyz');
await waitForHttp('http://127.0.0.1:28183/');
const auth = ['-H', `Authorization: Bearer ${token}`];
// -T streams the file (--data-binary would read it into memory first).
const put = execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', ...auth, '-H', 'Content-Type: application/octet-stream', '-T', file, 'http://127.0.0.1:28182/http/bench/stream.bin']).toString();
if (!/^2\d\d$/.test(put)) throw new Error(`streamed PUT answered ${put}:\n${streamGw.output()}`);

/** curl into /dev/null on the client core: bytes/s, and the server's CPU seconds per GB. */
function download(url, pid, headers = []) {
  const before = cpuSeconds(pid);
  const out = execFileSync('taskset', ['-c', String(CLIENT_CORE), 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{speed_download}', ...headers, url]).toString();
  const [code, size, speed] = out.split(' ').map(Number);
  if (code !== 200 || size !== STREAM_MB * 1024 * 1024) throw new Error(`${url}: ${out}`);
  return { speed, cpuPerGb: (cpuSeconds(pid) - before) / (size / 1e9) };
}
const streamRuns = { gateway: [], raw: [] };
// One untimed GET each first (JIT, and the heap settling at its working size), then five timed.
download('http://127.0.0.1:28182/http/bench/stream.bin', streamGw.pid, auth);
download('http://127.0.0.1:28183/', fileServer.pid);
for (let i = 0; i < 5; i++) {
  streamRuns.gateway.push(download('http://127.0.0.1:28182/http/bench/stream.bin', streamGw.pid, auth));
  streamRuns.raw.push(download('http://127.0.0.1:28183/', fileServer.pid));
}
streamGw.kill('SIGTERM');
fileServer.kill('SIGTERM');

// ---------------------------------------------------------------- report
const gwSpeed = median(streamRuns.gateway.map((r) => r.speed));
const rawSpeed = median(streamRuns.raw.map((r) => r.speed));
const streamRatio = gwSpeed / rawSpeed;
console.log(`\nstreaming path: ${STREAM_MB} MiB GET through /http/ (local driver) vs a raw file-to-socket copy, 1 untimed and 5 timed runs each, medians; gateway runs: ${streamRuns.gateway.map((r) => (r.speed / 1048576).toFixed(0)).join(' ')} MiB/s`);
console.log(`gateway: ${(gwSpeed / 1048576).toFixed(0)} MiB/s, ${median(streamRuns.gateway.map((r) => r.cpuPerGb)).toFixed(3)} CPU s/GB; raw copy: ${(rawSpeed / 1048576).toFixed(0)} MiB/s, ${median(streamRuns.raw.map((r) => r.cpuPerGb)).toFixed(3)} CPU s/GB`);
console.log(`streaming throughput, gateway / raw copy: ${streamRatio.toFixed(3)} (target at least 0.8: ${streamRatio >= 0.8 ? 'met' : 'NOT met'})`);
console.log(`\nload average before: ${loadBefore}; after: ${load()} (2 cores)`);
console.log('Re-run: npm run bench:clients  [BENCH_PACKAGES=20 BENCH_OUTPUT_MB=8 BENCH_HIT_REPEAT=3 BENCH_STREAM_MB=1024]');
process.exit(0);
