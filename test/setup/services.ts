import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const RGW_SCRIPT = join(process.cwd(), 'test', 'setup', 'rgw.sh');
const SERVICES_ROOT = join(process.cwd(), '.test-services');

/**
 * Ports of one set of throw-away services. Every test run picks its own slot, so runs that overlap
 * (two terminals, a developer and a CI job) never share or stop each other's RGW or Redis.
 */
export interface ServicePorts {
  readonly rgw: number;
  readonly mon: number;
  readonly redis: number;
  readonly osdMin: number;
  readonly osdMax: number;
}

export function portsForSlot(slot: number): ServicePorts {
  const base = 21000 + slot * 30;
  return { rgw: base, mon: base + 1, redis: base + 2, osdMin: base + 10, osdMax: base + 29 };
}

export function serviceDir(name: string): string {
  return join(SERVICES_ROOT, name);
}

export interface RgwCluster {
  readonly dir: string;
  readonly env: Record<string, string>;
}

/** Starts a Ceph RGW cluster (mon + osd + radosgw) in `dir`; retries on another slot if ports are taken. */
export async function startRgw(name: string, slot: number): Promise<RgwCluster> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const ports = portsForSlot((slot + attempt * 37) % 380);
    const dir = serviceDir(name);
    await mkdir(dir, { recursive: true });
    try {
      const { stdout } = await run('bash', [RGW_SCRIPT, 'start', dir], {
        env: {
          ...process.env,
          RGW_PORT: String(ports.rgw),
          MON_PORT: String(ports.mon),
          OSD_PORT_MIN: String(ports.osdMin),
          OSD_PORT_MAX: String(ports.osdMax),
        },
        maxBuffer: 1 << 20,
      });
      const env: Record<string, string> = {};
      for (const line of stdout.split('\n')) {
        const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
        if (m) env[m[1] as string] = m[2] as string;
      }
      return { dir, env };
    } catch (err) {
      if ((err as { code?: number }).code !== 3) throw err;
    }
  }
  throw new Error('no free ports for a test RGW');
}

export async function rgwControl(dir: string, cmd: 'stop' | 'stop-gateway' | 'start-gateway'): Promise<void> {
  await run('bash', [RGW_SCRIPT, cmd, dir]);
}

export async function purge(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

async function hasCommand(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/** Installs Debian's redis-server when it is missing (the suite runs real services, not fakes). */
async function ensureRedis(): Promise<void> {
  if (await hasCommand('redis-server')) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const apt = (args: string[]) => run(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), ...args], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  await apt(['update', '-qq']);
  await apt(['install', '-y', '-qq', '--no-install-recommends', 'redis-server']);
}

export async function startRedis(name: string, port: number): Promise<string> {
  await ensureRedis();
  const dir = serviceDir(name);
  await mkdir(dir, { recursive: true });
  await run('redis-server', [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'yes',
    '--pidfile', join(dir, 'redis.pid'),
    '--logfile', join(dir, 'redis.log'),
    '--dir', dir,
  ]);
  for (let i = 0; i < 100; i++) {
    try {
      await run('redis-cli', ['-p', String(port), 'ping']);
      return `redis://127.0.0.1:${port}`;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('redis-server did not start');
}

export async function stopRedis(port: number): Promise<void> {
  await run('redis-cli', ['-p', String(port), 'shutdown', 'nosave']).catch(() => undefined);
}
