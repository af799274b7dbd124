#!/usr/bin/env node
// Negotiation throughput: the gateway against a bare node:http JSON server, both pinned to the same
// core, driven with the same load, interleaved in one run (this machine drifts between passes, so
// only same-run ratios mean anything).
//
//   npm run bench:negotiate                       (S3 driver on a throw-away Ceph RGW; builds first)
//   npm run bench:negotiate -- --store local      (the embedded local-disk driver)
//   options: --duration S (5) --rounds N (3) --connections N (32) --primed N (30000) --store s3|local
//            --only hit,flow,cold,batch (a subset of the scenarios below; all by default)
//            --load wrk|autocannon (wrk, the default, drives the bare server, the hit and the cold
//            miss; autocannon, in this process, the CI flow and the batch, which need per-request
//            state. Every row prints the load generator's CPU share of its core: near 1.0 means the
//            generator, not the server, set the pace.)
//
// Scenarios:
// - download hit with a JWT on known keys;
// - upload miss after its download miss: the CI flow (a client asks to download, misses, builds,
//   then asks to upload). Each round first makes --primed download negotiations of new keys
//   (untimed; they are the download misses), then times one upload negotiation per key;
// - cold upload miss: an upload negotiation of a key nobody asked about (a HEAD on the store +
//   a presign), whose rate the store's own HEAD rate bounds (measured once, printed beside it);
//   with S3 it runs twice: against RGW, and against a store stand-in that answers as fast as the
//   gateway can ask (bench/lib/fast-store.mjs), which is the gateway's own figure;
// - batch negotiation of 1000 known keys per request (hashes/s).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool, request } from 'undici';
import { SignJWT } from 'jose';
import { cpuMs, gatewayArgs, median, pinCurrentProcess, spawnPinned, stopAll, waitForHttp } from './lib/processes.mjs';
import { runWrk } from './lib/wrk.mjs';
import { startRgw } from './lib/rgw.mjs';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 's3' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    primed: { type: 'string', default: '30000' },
    only: { type: 'string', default: 'hit,flow,cold,batch' },
    load: { type: 'string', default: 'wrk' },
  },
});
const DURATION = Number(args.duration);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const PRIMED = Number(args.primed);
const SERVER_CORE = 1;
const LOAD_CORE = 0;
const KNOWN = 1000;
const SECRET = randomBytes(32).toString('hex');
const root = process.cwd();
pinCurrentProcess(LOAD_CORE);

let rgw;
function cleanup() {
  stopAll();
  rgw?.stop();
  rgw = undefined;
}
process.on('exit', cleanup);

const gwEnv = { PATH: process.env.PATH, VC_PORT: '28080', VC_HOST: '127.0.0.1', VC_JWT_SECRET: SECRET, VC_LOG_LEVEL: 'warn' };
let integrity = 'sha256';
if (args.store === 's3') {
  rgw = startRgw(root, 27480);
  integrity = 'md5';
  Object.assign(gwEnv, {
    VC_STORAGE_DRIVER: 's3', VC_S3_ENDPOINT: rgw.VC_TEST_S3_ENDPOINT, VC_S3_BUCKET: 'bench', VC_S3_FORCE_PATH_STYLE: 'true',
    VC_S3_CREATE_BUCKET: 'true', VC_S3_INTEGRITY: 'md5', AWS_ACCESS_KEY_ID: rgw.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: rgw.AWS_SECRET_ACCESS_KEY, AWS_REGION: 'us-east-1',
  });
} else {
  gwEnv.VC_LOCAL_ROOT = mkdtempSync(join(tmpdir(), 'velocity-bench-local-'));
}

const bareServer = spawnPinned(SERVER_CORE, process.execPath, [join(root, 'bench/lib/bare-server.mjs'), '28081']);
// The framework's own floor for the hit (bench/lib/koa-floor-server.mjs), measured beside it.
const koaFloor = spawnPinned(SERVER_CORE, process.execPath, [join(root, 'bench/lib/koa-floor-server.mjs'), '28083']);
const KOA_FLOOR = 'http://127.0.0.1:28083';
const gw = spawnPinned(SERVER_CORE, process.execPath, gatewayArgs(root), { env: gwEnv });
const GW = 'http://127.0.0.1:28080';
const BARE = 'http://127.0.0.1:28081';
await Promise.all([waitForHttp(`${GW}/healthz`), waitForHttp(BARE), waitForHttp(KOA_FLOOR).catch(() => undefined)]);
await waitForHttp(`${GW}/readyz`).catch(() => { throw new Error(`gateway not ready:\n${gw.output()}`); });
// With S3, a second gateway on the same core asks a store stand-in (bench/lib/fast-store.mjs, on the
// load core like RGW) that answers HEADs faster than RGW can here: its cold-upload figure is the
// gateway's, the RGW one is the store's.
let gwFast;
const GW_FAST = 'http://127.0.0.1:28082';
if (args.store === 's3') {
  spawnPinned(LOAD_CORE, process.execPath, [join(root, 'bench/lib/fast-store.mjs'), '28090', 'bench']);
  gwFast = spawnPinned(SERVER_CORE, process.execPath, gatewayArgs(root), {
    env: { ...gwEnv, VC_PORT: '28082', VC_S3_ENDPOINT: 'http://127.0.0.1:28090', VC_S3_CREATE_BUCKET: 'false' },
  });
  await waitForHttp(`${GW_FAST}/readyz`).catch(() => { throw new Error(`gateway (store stand-in) not ready:\n${gwFast.output()}`); });
}

const token = await new SignJWT({ scope: 'cache:read cache:write', namespaces: ['*'] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('2h').sign(Buffer.from(SECRET));
// autocannon writes a content-length into the headers object it is given: each request gets a copy.
const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };

// Known keys: uploaded through the real protocol first.
const keys = Array.from({ length: KNOWN }, (_, i) => `bench-${i}-${randomBytes(8).toString('hex')}`);
const body = randomBytes(1024);
const digest = { size: body.length, sha256: createHash('sha256').update(body).digest('hex'), md5: createHash('md5').update(body).digest('base64') };
const offers = await (await fetch(`${GW}/v1/negotiate/batch`, {
  method: 'POST', headers, body: JSON.stringify({ items: keys.map((hash) => ({ hash, action: 'upload', ...digest })) }),
})).json();
for (let i = 0; i < keys.length; i += 32) {
  await Promise.all(offers.results.slice(i, i + 32).map(async (o) => {
    if (o.status !== 'upload_needed') throw new Error(`unexpected ${JSON.stringify(o)}`);
    const r = await request(o.url, { method: 'PUT', headers: o.headers, body });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`PUT ${r.statusCode}`);
  }));
}
const check = await (await fetch(`${GW}/v1/negotiate`, { method: 'POST', headers, body: JSON.stringify({ hash: keys[0], action: 'download' }) })).json();
if (check.status !== 'found') throw new Error(`known key not found: ${JSON.stringify(check)}`);


/**
 * Drives `url` for DURATION seconds. Besides throughput, it records the server's CPU time per
 * request: on this shared 2-core machine the store (RGW) and the load generator compete for the
 * cores, so CPU per request says what the server itself costs, whoever else is busy.
 */
async function load(url, pid, requestFactory, { connections = CONNECTIONS, amount } = {}) {
  const before = cpuMs(pid);
  const selfBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const res = await new Promise((resolve, reject) => {
    autocannon({
      // A fixed amount ends on autocannon's next sample tick: sample often, or the wall time (and
      // the rate) would be rounded to whole seconds.
      url, connections, pipelining: 1, ...(amount ? { amount, sampleInt: 20 } : { duration: DURATION }),
      requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, ...requestFactory() }) }],
    }, (err, r) => (err ? reject(err) : resolve(r)));
  });
  res.cpuUsPerRequest = ((cpuMs(pid) - before) * 1000) / Math.max(1, res.requests.total);
  // A run of a fixed number of requests is short: its rate is the total over the wall time.
  res.rps = amount ? res.requests.total / ((res.finish - res.start) / 1000) : res.requests.average;
  const self = process.cpuUsage(selfBefore);
  res.loadCpuShare = (self.user + self.system) / 1000 / (performance.now() - wallBefore);
  return res;
}

/**
 * The same measurement with wrk: `spec` is {path, headers, bodies} (cycled) or {path, headers,
 * randomKeyBody} (a fresh key per request). Same result shape as load().
 */
async function loadWrk(url, pid, spec) {
  const before = cpuMs(pid);
  const r = await runWrk({ url, connections: CONNECTIONS, duration: DURATION, core: LOAD_CORE, ...spec });
  return {
    rps: r.rps, latency: { p99: r.p99 }, non2xx: r.non2xx, errors: r.errors, timeouts: 0,
    cpuUsPerRequest: ((cpuMs(pid) - before) * 1000) / Math.max(1, r.total), loadCpuShare: r.loadCpuShare,
  };
}
const useWrk = args.load === 'wrk';
if (!['wrk', 'autocannon'].includes(args.load)) throw new Error('--load: wrk or autocannon');

/** The download misses that precede uploads in the CI flow: `n` new keys, asked about in batches. */
async function primeMisses(n) {
  const fresh = Array.from({ length: n }, () => randomBytes(16).toString('hex'));
  let next = 0;
  const pool = new Pool(GW, { connections: 4 });
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < fresh.length) {
      const items = fresh.slice(next, (next += 1000)).map((hash) => ({ hash, action: 'download' }));
      const res = await pool.request({ method: 'POST', path: '/v1/negotiate/batch', headers, body: JSON.stringify({ items }) });
      const { results } = await res.body.json();
      const wrong = results.find((x) => x.status !== 'missing');
      if (wrong) throw new Error(`priming: ${JSON.stringify(wrong)}`);
    }
  }));
  await pool.close();
  return fresh;
}

/** The store's own HEAD rate for a missing key, from a bare client: the ceiling of a cold upload miss. */
async function storeHeadRate() {
  if (args.store !== 's3') return undefined;
  const { S3Client, HeadObjectCommand } = await import('@aws-sdk/client-s3');
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const s3 = new S3Client({
    endpoint: gwEnv.VC_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: gwEnv.AWS_ACCESS_KEY_ID, secretAccessKey: gwEnv.AWS_SECRET_ACCESS_KEY },
  });
  const url = new URL(await getSignedUrl(s3, new HeadObjectCommand({ Bucket: 'bench', Key: 'no-such-key' }), { expiresIn: 600 }));
  const pool = new Pool(url.origin, { connections: CONNECTIONS });
  let n = 0;
  const end = Date.now() + DURATION * 1000;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (Date.now() < end) {
      const r = await pool.request({ method: 'HEAD', path: url.pathname + url.search, reset: false });
      await r.body.dump();
      if (r.statusCode !== 404) throw new Error(`store HEAD: HTTP ${r.statusCode}`);
      n++;
    }
  }));
  await pool.close();
  return n / DURATION;
}

let k = 0;
const hitBodies = keys.map((hash) => JSON.stringify({ hash, action: 'download' }));
const scenarios = {
  bare: () => (useWrk
    ? loadWrk(BARE, bareServer.pid, { path: '/', headers: { 'content-type': 'application/json' }, bodies: hitBodies })
    : load(BARE, bareServer.pid, () => ({ path: '/', headers: { 'content-type': 'application/json' }, body: hitBodies[k++ % KNOWN] }))),
  'download hit (JWT)': () => (useWrk
    ? loadWrk(GW, gw.pid, { path: '/v1/negotiate', headers, bodies: hitBodies })
    : load(GW, gw.pid, () => ({ path: '/v1/negotiate', headers: { ...headers }, body: hitBodies[k++ % KNOWN] }))),
  'koa floor (same request)': () => (useWrk
    ? loadWrk(KOA_FLOOR, koaFloor.pid, { path: '/', headers: { 'content-type': 'application/json' }, bodies: hitBodies })
    : load(KOA_FLOOR, koaFloor.pid, () => ({ path: '/', headers: { 'content-type': 'application/json' }, body: hitBodies[k++ % KNOWN] }))),
  'upload miss (CI flow)': async () => {
    const primed = await primeMisses(PRIMED);
    let i = 0;
    return load(GW, gw.pid, () => ({
      path: '/v1/negotiate', headers: { ...headers }, body: JSON.stringify({ hash: primed[i++ % primed.length], action: 'upload', ...uploadDigest }),
    }), { amount: primed.length });
  },
  'upload miss (cold)': () => (useWrk ? loadWrk(GW, gw.pid, coldSpec()) : load(GW, gw.pid, coldUpload)),
  'upload miss (cold, stand-in)': () => (useWrk ? loadWrk(GW_FAST, gwFast.pid, coldSpec()) : load(GW_FAST, gwFast.pid, coldUpload)),
  'batch (1000 known keys)': () => load(GW, gw.pid, () => ({
    path: '/v1/negotiate/batch', headers: { ...headers }, body: batchBody,
  }), { connections: 4 }),
};
const coldUpload = () => ({
  path: '/v1/negotiate', headers: { ...headers }, body: JSON.stringify({ hash: randomBytes(16).toString('hex'), action: 'upload', ...uploadDigest }),
});
const uploadDigest = integrity === 'md5' ? digest : { size: digest.size, sha256: digest.sha256 };
const coldSpec = () => ({ path: '/v1/negotiate', headers, randomKeyBody: JSON.stringify({ hash: '%KEY%', action: 'upload', ...uploadDigest }) });
const batchBody = JSON.stringify({ items: keys.map((hash) => ({ hash, action: 'download' })) });

const SHORT = { hit: 'download hit (JWT)', flow: 'upload miss (CI flow)', cold: 'upload miss (cold)', batch: 'batch (1000 known keys)' };
const chosen = args.only.split(',').flatMap((s) => {
  if (!SHORT[s.trim()]) throw new Error(`--only: unknown scenario ${s}; choose from ${Object.keys(SHORT).join(',')}`);
  if (s.trim() === 'hit') return ['koa floor (same request)', SHORT.hit];
  return s.trim() === 'cold' && gwFast ? [SHORT.cold, 'upload miss (cold, stand-in)'] : [SHORT[s.trim()]];
});
const results = Object.fromEntries(Object.keys(scenarios).map((n) => [n, []]));
const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const headCeiling = await storeHeadRate();
// The stand-in's gateway has served nothing yet (the other one warmed up on the setup above).
if (chosen.includes('upload miss (cold, stand-in)')) await load(GW_FAST, gwFast.pid, coldUpload, { amount: 5000 });
for (let round = 1; round <= ROUNDS; round++) {
  for (const name of chosen) {
    const bare = await scenarios.bare();
    const r = await scenarios[name]();
    for (const [label, x] of [['bare', bare], [name, r]]) {
      if (x.non2xx + x.errors + x.timeouts > 0) throw new Error(`${label}: ${x.non2xx} non-2xx, ${x.errors} errors, ${x.timeouts} timeouts`);
    }
    results.bare.push({ rps: bare.rps, p99: bare.latency.p99, cpu: bare.cpuUsPerRequest, gen: bare.loadCpuShare });
    results[name].push({
      rps: r.rps, p99: r.latency.p99, ratio: r.rps / bare.rps,
      cpu: r.cpuUsPerRequest, cpuRatio: bare.cpuUsPerRequest / r.cpuUsPerRequest, gen: r.loadCpuShare,
    });
    process.stderr.write(`round ${round}: ${name}: ${Math.round(r.rps)} req/s vs bare ${Math.round(bare.rps)}\n`);
  }
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const targets = { 'download hit (JWT)': 0.45, 'upload miss (CI flow)': 0.1, 'upload miss (cold)': 0.1, 'upload miss (cold, stand-in)': 0.1 };
console.log(`\nNegotiation benchmark (${args.store} store${args.store === 's3' ? ': Ceph RGW on loopback' : ''}; gateway and bare server pinned to core ${SERVER_CORE}, load on core ${LOAD_CORE}; ${ROUNDS} rounds x ${DURATION}s, medians)`);
console.log(`load average before: ${loadBefore}`);
console.log('scenario                      req/s      p99 ms   req/s vs bare   server CPU us/req (vs bare)   load gen CPU   target');
const bareMed = median(results.bare.map((x) => x.rps));
const bareCpu = median(results.bare.map((x) => x.cpu));
const gen = (rs) => `${fmt(median(rs.map((x) => x.gen)), 2)}${median(rs.map((x) => x.gen)) > 0.9 ? '!' : ' '}`.padStart(12);
console.log(`bare node:http JSON POST      ${fmt(bareMed).padStart(8)}   ${fmt(median(results.bare.map((x) => x.p99))).padStart(6)}   1.000x          ${fmt(bareCpu, 1).padStart(6)} (1.000x)             ${gen(results.bare)}`);
for (const name of ['koa floor (same request)', ...Object.keys(targets), 'batch (1000 known keys)']) {
  const rs = results[name];
  if (rs.length === 0) continue;
  const ratio = median(rs.map((x) => x.ratio));
  const cpu = `${fmt(median(rs.map((x) => x.cpu)), 1).padStart(6)} (${fmt(median(rs.map((x) => x.cpuRatio)), 3)}x)`;
  const line = `${name.padEnd(28)}  ${fmt(median(rs.map((x) => x.rps))).padStart(8)}   ${fmt(median(rs.map((x) => x.p99))).padStart(6)}   ${fmt(ratio, 3)}x          ${cpu.padEnd(26)}${gen(rs)}`;
  if (name.startsWith('koa floor')) {
    console.log(`${line}   (reference: a minimal Koa app reading the same body)`);
  } else if (name.startsWith('batch')) {
    const hps = median(rs.map((x) => x.rps)) * KNOWN;
    console.log(`${line}   ${fmt(hps)} hashes/s (>= 50,000: ${hps >= 50_000 ? 'met' : 'NOT met'})`);
  } else {
    const storeBound = name === 'upload miss (cold)' && headCeiling !== undefined && headCeiling / bareMed < targets[name]
      ? ` (RGW's own ceiling here: ${fmt(headCeiling / bareMed, 3)}x)` : '';
    // The hit's target is by server CPU per request (issue: req/s ratios flatter when the load
    // generator saturates first); the misses' by req/s, as before.
    const byCpu = name === 'download hit (JWT)';
    const measured = byCpu ? median(rs.map((x) => x.cpuRatio)) : ratio;
    console.log(`${line}   ${byCpu ? 'CPU' : 'req/s'} >= ${targets[name]}x: ${measured >= targets[name] ? 'met' : `NOT met${storeBound}`}`);
  }
}
if (headCeiling !== undefined) {
  console.log(`\nThe store itself: RGW answers ${fmt(headCeiling)} HEAD/s for a missing key from a bare client (${fmt(headCeiling / bareMed, 3)}x the bare server).`);
  console.log('A cold upload miss makes one such HEAD, so on RGW its req/s cannot exceed that. The stand-in row is the');
  console.log('same gateway asking bench/lib/fast-store.mjs (RGW\'s answers, no signature check): what the gateway does on one core.');
}
if (results['koa floor (same request)'].length > 0 && results['download hit (JWT)'].length > 0) {
  const floor = median(results['koa floor (same request)'].map((x) => x.cpu));
  const hit = median(results['download hit (JWT)'].map((x) => x.cpu));
  console.log(`\nOf the hit's ${fmt(hit, 1)} us of CPU: ${fmt(bareCpu, 1)} the bare server's work, ${fmt(floor - bareCpu, 1)} Koa's (a minimal app with co-body), ${fmt(hit - floor, 1)} the gateway's own`);
  console.log(`(router, request id, metrics, JWT, schema, lookup, answer). The target, ${fmt(bareCpu / 0.45, 1)} us, is ${fmt((bareCpu / 0.45) / floor, 2)}x the Koa floor.`);
}
console.log('Load gen CPU: the generator\'s CPU time over the run\'s wall time on its core (! above 0.9: it set the pace).');
console.log(`load average after: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
console.log('\nRe-run: npm run bench:negotiate [-- --store local --duration 5 --rounds 3 --connections 32 --only hit,flow,cold,batch --load wrk|autocannon]');
cleanup();
process.exit(0);
