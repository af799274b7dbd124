// Runs one ingest of a generated body in a process of its own, so its resident memory is the
// ingest's alone (jest's own heap moves too much to measure against). Reads one JSON argument
// { storage, bytes, declared, hash }; prints one JSON line { result, info, expected, rss }.
// Imports the built package (dist/): run `npm run build` first.
import { createHash, randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';

const dist = new URL('../../dist/', import.meta.url);
const { configSchema } = await import(new URL('config/schema.js', dist).href);
const { createStorageDriver } = await import(new URL('storage/create-storage-driver.js', dist).href);

const { storage, bytes, declared, hash } = JSON.parse(process.argv[2]);
const BLOCK = 1024 * 1024;
const SLICE = 64 * 1024;
const block = randomFillSync(Buffer.alloc(BLOCK));

// The body is `block` over and over: its digest, without holding it.
const expected = createHash('sha256');
for (let sent = 0; sent < bytes; sent += BLOCK) expected.update(block.subarray(0, Math.min(BLOCK, bytes - sent)));

function body() {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const at = sent % BLOCK;
      const n = Math.min(SLICE, bytes - sent);
      sent += n;
      this.push(block.subarray(at, at + n));
    },
  });
}

const config = configSchema.parse({ storage });
const store = await createStorageDriver(config.storage, { baseUrl: () => 'http://127.0.0.1:1' });
await store.init();
const ref = { space: 'http', namespace: 'default', hash };
for (let i = 0; i < 3; i++) globalThis.gc?.();
const before = process.memoryUsage().rss;
let peak = before;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const started = Date.now();
const out = await store.ingest({ ref, ...(declared ? { size: bytes } : {}), maxSize: 4 * 1024 ** 3 }, body());
const ms = Date.now() - started;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
const head = await store.head(ref);
await store.delete([{ ref }]);
await store.close();
process.stdout.write(
  `${JSON.stringify({ result: out.result, info: out.info, head: head?.info, expected: expected.digest('hex'), rss: { before, peak }, ms })}\n`,
);
