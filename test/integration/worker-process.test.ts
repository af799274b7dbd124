import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = join(process.cwd(), 'dist', 'bin', 'velocity-worker.js');

async function worker(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('velocity-worker as a process', () => {
  it('answers --help on stdout with the VC_ variables it reads, and --version', async () => {
    const help = await worker(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: velocity-worker /);
    for (const name of ['VC_REDIS_URL', 'VC_BUILD_COMMAND', 'VC_VELOX_URL', 'VC_WORKER_PORT', 'VC_S3_BUCKET']) expect(help.stdout).toContain(name);
    const { version } = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    const v = await worker(['--version']);
    expect([v.code, v.stdout.trim()]).toEqual([0, version]);
  });

  it('refuses to start without a queue or a builder, listing both', async () => {
    const r = await worker([], { VC_LOCAL_ROOT: '/nonexistent-velocity-root' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('builds.redisUrl (VC_REDIS_URL): required by velocity-worker');
    expect(r.stderr).toMatch(/builds: .*VC_BUILD_COMMAND|builds: .*VC_VELOX_URL/);
  });
});
