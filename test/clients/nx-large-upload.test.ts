import { afterAll, expect, it } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { s3TestEnv, uniqueBucket } from '../helpers/gateway.js';

const BIN = join(process.cwd(), 'dist', 'bin', 'velocity-gateway.js');
/** The node flags the gateway ships with (`npm start`, the image, the manifests): measured as run. */
const SHIPPED_FLAGS = (JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start
  .split(/\s+/)
  .filter((arg) => arg.startsWith('--'));
const GIB = 1024 ** 3;
const RSS_LIMIT = 150 * 1024 * 1024;

let child: ChildProcessWithoutNullStreams | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
});

async function startGatewayProcess(token: string): Promise<{ url: string; pid: number }> {
  const proc = spawn(process.execPath, [...SHIPPED_FLAGS, BIN], {
    env: {
      PATH: process.env.PATH ?? '',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? '',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? '',
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      VC_HOST: '127.0.0.1',
      VC_PORT: '0',
      VC_LOG_LEVEL: 'info',
      VC_AUTH_TOKEN: token,
      VC_STORAGE_DRIVER: 's3',
      VC_S3_ENDPOINT: s3TestEnv().endpoint,
      VC_S3_BUCKET: uniqueBucket(),
      VC_S3_FORCE_PATH_STYLE: 'true',
      VC_S3_CREATE_BUCKET: 'true',
      VC_S3_INTEGRITY: 'md5',
    },
  });
  child = proc;
  let out = '';
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"listen":"(http:\/\/[^"]+)"/.exec(out);
      if (m) resolve(m[1] as string);
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${out}`)));
  });
  return { url, pid: proc.pid! };
}

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  return Number(kb) * 1024;
}

/** PUTs `size` bytes, written as the socket drains (the client holds one 1 MiB chunk at a time). */
function putStream(url: string, token: string, size: number): Promise<{ status: number; body: string }> {
  const chunks = Array.from({ length: 4 }, () => randomBytes(1024 * 1024));
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': String(size) } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    let sent = 0;
    let i = 0;
    const pump = (): void => {
      while (sent < size) {
        const chunk = chunks[i++ % chunks.length] as Buffer;
        const piece = size - sent < chunk.length ? chunk.subarray(0, size - sent) : chunk;
        sent += piece.length;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

it('a 1 GiB Nx upload streams through a gateway process into RGW with its RSS under 150 MB', async () => {
  const token = `t-${randomBytes(12).toString('hex')}`;
  const { url, pid } = await startGatewayProcess(token);
  const samples: number[] = [await rssOf(pid)];
  const sampler = setInterval(() => {
    rssOf(pid).then((rss) => samples.push(rss), () => undefined);
  }, 100);
  let result: { status: number; body: string };
  try {
    result = await putStream(`${url}/v1/cache/1234567890123456789`, token, GIB);
  } finally {
    clearInterval(sampler);
  }
  expect(result).toEqual({ status: 200, body: '' });
  // The upload ran long enough to be watched (about one sample per 100 ms).
  expect(samples.length).toBeGreaterThan(10);
  const peak = Math.max(...samples);
  if (peak >= RSS_LIMIT) {
    const mib = (n: number) => Math.round(n / 1024 ** 2);
    throw new Error(`peak RSS ${mib(peak)} MiB (at start ${mib(samples[0] as number)} MiB); samples in MiB: ${samples.map(mib).join(' ')}`);
  }

  // Stored whole: the hit redirects to the store, which holds exactly 1 GiB.
  const hit = await fetch(`${url}/v1/cache/1234567890123456789`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
  expect(hit.status).toBe(302);
  const first = await fetch(hit.headers.get('location')!, { headers: { range: 'bytes=0-0' } });
  expect(first.status).toBe(206);
  expect(first.headers.get('content-range')).toBe(`bytes 0-0/${GIB}`);
  await first.arrayBuffer();
}, 120_000);
