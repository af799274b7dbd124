#!/usr/bin/env node
// Proxy mode pass-through: a large upstream response fetched through the gateway (VC_UPSTREAM_URL)
// against the same response fetched straight from the upstream, interleaved, in one run. The
// gateway runs as its own process (as shipped: `npm start`'s node flags) pinned to core 1; the
// upstream and the client (curl, C) share core 0 in both cases, so the direct row is the same
// work minus the gateway. Prints throughput, the ratio, the gateway's CPU per GB and its peak RSS.
//
//   npm run bench:builds            (runs this after the build de-duplication bench)
//   node bench/proxy.mjs [--gb 1] [--rounds 3]
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { cpuMs, gatewayArgs, median, spawnPinned, stopAll, waitForHttp } from './lib/processes.mjs';

const run = promisify(execFile);
const { values: args } = parseArgs({ options: { gb: { type: 'string', default: '1' }, rounds: { type: 'string', default: '3' } } });
const BYTES = Math.round(Number(args.gb) * 1024 ** 3);
const ROUNDS = Number(args.rounds);
const root = process.cwd();
const work = mkdtempSync(join(tmpdir(), 'velocity-bench-proxy-'));
const bounded = setTimeout(() => {
  console.error('bench did not finish within 10 minutes');
  process.exit(1);
}, 600_000);

// The upstream: GET /big streams BYTES from one reused 1 MiB buffer, with backpressure.
const chunk = Buffer.alloc(1024 * 1024, 7);
const upstream = createServer((req, res) => {
  if (req.url !== '/big') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BYTES) });
  let left = BYTES;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const UPSTREAM = `http://127.0.0.1:${upstream.address().port}`;
// This process serves the upstream: keep it on core 0 with curl.
await run('taskset', ['-pc', '0', String(process.pid)]).catch(() => undefined);

const PORT = 28380;
const gw = spawnPinned(1, process.execPath, gatewayArgs(root), {
  env: {
    PATH: process.env.PATH, VC_PORT: String(PORT), VC_HOST: '127.0.0.1', VC_LOG_LEVEL: 'warn',
    VC_AUTH_TOKEN: 'bench-proxy-token-0123456789', VC_LOCAL_ROOT: join(work, 'store'), VC_UPSTREAM_URL: UPSTREAM,
  },
});
const GATEWAY = `http://127.0.0.1:${PORT}`;
await waitForHttp(`${GATEWAY}/healthz`);

function status(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1]);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}
/** curl on core 0: wall seconds and bytes of one download to /dev/null. */
async function fetchOnce(url) {
  const { stdout } = await run('taskset', ['-c', '0', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url], { maxBuffer: 1 << 16 });
  const [code, size, seconds] = stdout.trim().split(' ');
  if (code !== '200' || Number(size) !== BYTES) throw new Error(`${url}: HTTP ${code}, ${size} bytes`);
  return Number(seconds);
}

const before = status(gw.pid);
const direct = [];
const proxied = [];
let gatewayCpuMs = 0;
for (let round = 0; round < ROUNDS; round++) {
  direct.push(BYTES / (await fetchOnce(`${UPSTREAM}/big`)));
  const cpu0 = cpuMs(gw.pid);
  proxied.push(BYTES / (await fetchOnce(`${GATEWAY}/big`)));
  gatewayCpuMs += cpuMs(gw.pid) - cpu0;
  process.stderr.write(`round ${round + 1}: direct ${(direct.at(-1) / 1024 ** 2).toFixed(0)} MiB/s, through the gateway ${(proxied.at(-1) / 1024 ** 2).toFixed(0)} MiB/s\n`);
}
const after = status(gw.pid);
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const mibs = (x) => (median(x) / 1024 ** 2).toFixed(0);
console.log(`\nProxy pass-through (${args.gb} GiB response, ${ROUNDS} interleaved rounds, medians; load average ${load})`);
console.log(`direct from the upstream:   ${mibs(direct)} MiB/s`);
console.log(`through the gateway:        ${mibs(proxied)} MiB/s  = ${(median(proxied) / median(direct)).toFixed(3)}x direct`);
console.log(`gateway CPU:                ${(gatewayCpuMs / ROUNDS / (BYTES / 1024 ** 3)).toFixed(0)} ms per GiB`);
console.log(`gateway RSS:                ${before.rssMb.toFixed(0)} MiB before, peak ${after.peakMb.toFixed(0)} MiB over the run (bounded: it does not grow with the response)`);
console.log('\nRe-run: node bench/proxy.mjs [--gb 1 --rounds 3] (or npm run bench:builds)');

stopAll();
upstream.close();
rmSync(work, { recursive: true, force: true });
clearTimeout(bounded);
process.exit(0);
