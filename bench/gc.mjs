#!/usr/bin/env node
// One eviction pass over a store of many artifacts: how long it takes, how much memory it needs,
// and how many store calls it makes (ListObjectsV2 pages, DeleteObjects batches of up to 1,000),
// beside the store's own listing rate measured in the same run (a pass cannot list faster than
// the store lists).
//
//   npm run bench:gc                                  (100,000 artifacts on a throw-away Ceph RGW; builds first)
//   npm run bench:gc -- --artifacts 2000              (a quick smoke run)
//   options: --artifacts N (100000) --keep F (0.5: the pass evicts down to this fraction, LRU)
//            --seed-concurrency N (64) --endpoint URL --bucket NAME (an existing S3 store instead of
//            RGW; credentials from the usual AWS_* variables; the bucket is filled and then emptied)
//
// The store's own rate is one plain ListObjectsV2 walk of the same keys (1,000 per page) with the
// same client; the pass lists the same pages plus its statistics, plans in memory and deletes.
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { startRgw } from './lib/rgw.mjs';

const root = process.cwd();
const { values: args } = parseArgs({
  options: {
    artifacts: { type: 'string', default: '100000' },
    keep: { type: 'string', default: '0.5' },
    'seed-concurrency': { type: 'string', default: '64' },
    endpoint: { type: 'string' },
    bucket: { type: 'string' },
  },
});
const N = Number(args.artifacts);
const KEEP = Math.floor(N * Number(args.keep));
const SEED_CONCURRENCY = Number(args['seed-concurrency']);

const { configSchema } = await import(join(root, 'dist/config/schema.js'));
const { S3Driver, createS3Client } = await import(join(root, 'dist/storage/s3/s3-driver.js'));
const { createLifecycle } = await import(join(root, 'dist/lifecycle/create-lifecycle.js'));

let endpoint = args.endpoint;
if (!endpoint) {
  const rgw = startRgw(root, 27580);
  endpoint = rgw.VC_TEST_S3_ENDPOINT;
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: rgw.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: rgw.AWS_SECRET_ACCESS_KEY, AWS_REGION: 'us-east-1' });
}
const bucket = args.bucket ?? `gc-bench-${randomBytes(4).toString('hex')}`;
const config = configSchema.parse({
  logLevel: 'silent',
  storage: { driver: 's3', s3: { endpoint, bucket, forcePathStyle: true, createBucket: true, integrity: 'md5', timeout: 30 } },
  lifecycle: { eviction: { policy: 'lru', maxEntries: Math.max(1, KEEP), interval: 0 } },
});

// Every SDK call the store makes, by command (the pass's HEADs go through undici: none here, as
// only zero-length multipart pointers are HEADed while listing).
const calls = new Map();
const deleteKeys = [];
const client = createS3Client(config.storage.s3);
client.middlewareStack.add(
  (next, context) => async (a) => {
    calls.set(context.commandName, (calls.get(context.commandName) ?? 0) + 1);
    if (context.commandName === 'DeleteObjectsCommand') deleteKeys.push(a.input.Delete.Objects.length);
    return next(a);
  },
  { step: 'initialize', name: 'countCalls' },
);
const store = new S3Driver(config.storage.s3, { client });
await store.init();

console.log(`seeding ${N} artifacts into ${endpoint}/${bucket} (${SEED_CONCURRENCY} at a time)...`);
const seedStarted = performance.now();
let next = 0;
await Promise.all(Array.from({ length: SEED_CONCURRENCY }, async () => {
  while (next < N) {
    const i = next++;
    const body = Buffer.from(`artifact ${i}`);
    await client.send(new PutObjectCommand({
      Bucket: bucket,
      Key: `artifacts/ns${i % 10}/h${String(i).padStart(8, '0')}`,
      Body: body,
      ContentMD5: createHash('md5').update(body).digest('base64'),
      Metadata: { sha256: createHash('sha256').update(body).digest('hex') },
    }));
  }
}));
console.log(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
calls.clear();

// The store's own listing rate: a plain walk of the same keys.
let listed = 0;
let pages = 0;
const listStarted = performance.now();
for (let after; ;) {
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'artifacts/', StartAfter: after, MaxKeys: 1000 }));
  listed += res.Contents?.length ?? 0;
  pages++;
  if (!res.IsTruncated) break;
  after = res.Contents.at(-1).Key;
}
const listSeconds = (performance.now() - listStarted) / 1000;
calls.clear();

const lifecycle = createLifecycle({ config, store, registry: new Registry(), logger: pino({ level: 'silent' }), forget: () => undefined });
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const rssBefore = process.memoryUsage().rss;
const cpuBefore = process.cpuUsage();
const started = performance.now();
const report = await lifecycle.gc({ dryRun: false });
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
clearInterval(sampler);
await lifecycle.close();

const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
console.log(`
store listing (same run): ${listed} keys in ${pages} pages, ${listSeconds.toFixed(2)} s = ${Math.round(listed / listSeconds)} keys/s
gc pass over ${N} artifacts (LRU down to ${KEEP}):
  time          ${seconds.toFixed(2)} s (${Math.round(N / seconds)} artifacts/s; CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)
  memory        RSS ${mib(rssBefore)} before, peak ${mib(peakRss)} (+${mib(peakRss - rssBefore)})
  store calls   ${[...calls].map(([c, n]) => `${c.replace(/Command$/, '')} ${n}`).join(', ')}
  deletes       ${deleteKeys.length} DeleteObjects batches, ${deleteKeys.reduce((s, n) => s + n, 0)} keys (largest ${Math.max(0, ...deleteKeys)})
  report        ${JSON.stringify({ deleted: report.deleted, freed_bytes: report.freed_bytes, kept: report.kept, duration_ms: report.duration_ms, complete: report.complete })}
re-run: npm run bench:gc -- --artifacts ${N} --keep ${args.keep}${args.endpoint ? ` --endpoint ${args.endpoint} --bucket ${bucket}` : ''}`);
await store.close();
