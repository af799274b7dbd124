#!/usr/bin/env node
// Build de-duplication: N concurrent identical build requests against a Velox stand-in whose build
// takes a known time. Prints how many builds ran (must be 1) and the latency the last waiter adds
// after the build completes (target < 100 ms), then the latency of N identical hits.
//
//   npm run bench:builds                                   (embedded: in-process queue, local disk)
//   npm run bench:builds -- --queue bullmq                 (2 gateway replicas on BullMQ; starts a
//                                                           throw-away redis-server on 127.0.0.1:26379)
//   options: --clients N (100) --build-ms MS (2000) --queue inprocess|bullmq
//
// Everything runs on loopback; the run is bounded (60 s). The stand-in speaks Velox's Connect JSON
// wire format (a real Velox needs Go and the internet); it answers `{"path","logs"}` after --build-ms,
// and a request without rr_version (Velocity's capability probe) with Velox's validation error.
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { configSchema } from '../dist/config/schema.js';
import { buildsExtension } from '../dist/gateway/build-extension.js';
import { startGateway } from '../dist/gateway/start-gateway.js';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    'build-ms': { type: 'string', default: '2000' },
    queue: { type: 'string', default: 'inprocess' },
  },
});
const CLIENTS = Number(args.clients);
const BUILD_MS = Number(args['build-ms']);
const REDIS_PORT = 26379;
const TOKEN = `bench-${randomUUID()}`;
const work = mkdtempSync(join(tmpdir(), 'velocity-bench-builds-'));
const bounded = setTimeout(() => {
  console.error('bench did not finish within 60 s');
  process.exit(1);
}, 60_000);

let redisStarted = false;
function cleanup() {
  if (redisStarted) {
    try { execFileSync('redis-cli', ['-p', String(REDIS_PORT), 'shutdown', 'nosave'], { stdio: 'ignore' }); } catch { /* gone */ }
    redisStarted = false;
  }
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);

// ---- Velox stand-in: POST /api.service.v1.BuildService/Build, Connect JSON ----
const velox = { builds: 0, answeredAt: 0 };
const veloxServer = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url !== '/api.service.v1.BuildService/Build') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'unimplemented', message: 'no such procedure' }));
      return;
    }
    const body = Buffer.concat(chunks);
    // Velox validates before it builds (protovalidate; the capability probe sends a request that
    // cannot be built): a validation error is not a build.
    const parsed = JSON.parse(body.toString() || '{}');
    if (!parsed.rr_version) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'invalid_argument', message: 'validation error:\n - rr_version: value is required [required]\n - replaces[0].new: value is required [required]' }));
      return;
    }
    setTimeout(() => {
      const dir = join(work, 'velox', randomUUID());
      mkdirSync(dir, { recursive: true });
      const path = join(dir, 'rr');
      writeFileSync(path, Buffer.alloc(4 * 1024 * 1024, createHash('sha256').update(body).digest()));
      velox.builds++;
      velox.answeredAt = Date.now();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path, logs: 'velox: done\n' }));
    }, BUILD_MS);
  });
});
await new Promise((r) => veloxServer.listen(0, '127.0.0.1', r));
const veloxUrl = `http://127.0.0.1:${veloxServer.address().port}`;

// ---- gateways ----
const builds = { veloxUrl, concurrency: 4 };
if (args.queue === 'bullmq') {
  execFileSync('redis-server', ['--port', String(REDIS_PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--dir', work]);
  redisStarted = true;
  for (let i = 0; i < 50; i++) {
    try { execFileSync('redis-cli', ['-p', String(REDIS_PORT), 'ping'], { stdio: 'ignore' }); break; } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  Object.assign(builds, { redisUrl: `redis://127.0.0.1:${REDIS_PORT}`, redisPrefix: `bench-${randomUUID().slice(0, 8)}`, inProcessWorker: true });
}
const replicas = args.queue === 'bullmq' ? 2 : 1;
const logger = pino({ level: 'silent' });
const gateways = [];
for (let i = 0; i < replicas; i++) {
  const config = configSchema.parse({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    storage: { driver: 'local', local: { root: join(work, 'store') } },
    auth: { tokens: [TOKEN] },
    builds,
  });
  gateways.push(await startGateway({ config, logger, extend: buildsExtension({ config, logger }) }));
}

const request = {
  rr_version: 'v2025.1.2',
  target_platform: { os: 'linux', arch: 'amd64' },
  plugins: [
    { module_name: 'github.com/roadrunner-server/http/v5', tag: 'v5.0.2' },
    { module_name: 'github.com/roadrunner-server/server/v5', tag: 'v5.1.0' },
  ],
};
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

/** Submits, then follows the build's SSE stream; resolves with the final state and when it arrived. */
async function client(i) {
  const base = gateways[i % gateways.length].url;
  const res = await fetch(`${base}/v1/builds`, { method: 'POST', headers, body: JSON.stringify(request) });
  const submitted = await res.json();
  if (res.status !== 202) throw new Error(`client ${i}: HTTP ${res.status} ${JSON.stringify(submitted)}`);
  const events = await fetch(`${base}/v1/builds/${submitted.id}/events`, { headers });
  const decoder = new TextDecoder();
  let buffer = '';
  let final;
  for await (const chunk of events.body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (const block of buffer.split('\n\n').slice(0, -1)) {
      if (!block.startsWith('event: state')) continue;
      const data = JSON.parse(block.split('\ndata: ')[1]);
      if (data.status !== 'queued' && data.status !== 'building') final = { data, at: Date.now() };
    }
    buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
  }
  return { id: submitted.id, ...final };
}

const started = Date.now();
const results = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
const wall = Date.now() - started;
const ids = new Set(results.map((r) => r.id));
const digests = new Set(results.map((r) => r.data?.sha256));
const done = results.filter((r) => r.data?.status === 'done').length;
const added = results.map((r) => r.at - velox.answeredAt).sort((a, b) => a - b);
// When the store recorded the artifact (the build is complete: built and stored).
const hash = results[0]?.data?.hash;
const storedAt = Date.parse((await gateways[0].driver.head({ space: 'builds', namespace: 'builds', hash }))?.info.createdAt ?? '');
const afterStored = results.map((r) => r.at - storedAt).sort((a, b) => a - b);
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

// Hits: the same N requests again.
const hitLatencies = await Promise.all(
  Array.from({ length: CLIENTS }, async (_, i) => {
    const t0 = performance.now();
    const res = await fetch(`${gateways[i % gateways.length].url}/v1/builds`, { method: 'POST', headers, body: JSON.stringify(request) });
    const body = await res.json();
    if (res.status !== 200 || body.status !== 'found') throw new Error(`hit ${i}: HTTP ${res.status}`);
    return performance.now() - t0;
  }),
);
hitLatencies.sort((a, b) => a - b);

console.log(`queue: ${args.queue} (${replicas} gateway replica${replicas > 1 ? 's' : ''}), clients: ${CLIENTS}, stand-in build: ${BUILD_MS} ms, binary 4 MiB`);
console.log(`builds run:                         ${velox.builds} (must be 1)`);
console.log(`clients served "done":              ${done}/${CLIENTS}, build ids: ${ids.size}, artifact digests: ${digests.size}`);
console.log(`added latency after the build:     last waiter ${afterStored.at(-1)} ms (target < 100), p50 ${pct(afterStored, 50)} ms`);
console.log(`  (from the artifact stored to each waiter's final SSE event: queue event + status + presign)`);
console.log(`  including the worker's digest + upload of the binary (from Velox's answer): last ${added.at(-1)} ms, p50 ${pct(added, 50)} ms`);
console.log(`wall time for all ${CLIENTS} waiters:      ${wall} ms`);
console.log(`${CLIENTS} concurrent hits afterwards:      p50 ${pct(hitLatencies, 50).toFixed(1)} ms, max ${hitLatencies.at(-1).toFixed(1)} ms`);
console.log(`vs the build itself:                wall ${wall} ms for a ${BUILD_MS} ms build = ${(wall / BUILD_MS).toFixed(3)}x (1 build for ${CLIENTS} clients)`);
console.log('\nRe-run: npm run bench:builds [-- --queue bullmq --clients 100 --build-ms 2000]');

await Promise.all(gateways.map((g) => g.close(1000)));
await new Promise((r) => veloxServer.close(r));
clearTimeout(bounded);
const ok = velox.builds === 1 && done === CLIENTS && ids.size === 1 && digests.size === 1;
process.exit(ok ? 0 : 1);
