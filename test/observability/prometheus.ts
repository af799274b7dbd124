import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free loopback port (bound and released: a small race, acceptable in tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly state: 'pending' | 'firing' | 'inactive';
  readonly value: string;
}

export interface PrometheusServer {
  readonly url: string;
  query(expr: string): Promise<PromSample[]>;
  labelValues(label: string, match: string): Promise<string[]>;
  alerts(): Promise<PromAlert[]>;
  targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

/**
 * Debian's `prometheus` on a free loopback port with a temporary data folder. `config` and
 * `files` (rule files, token files) are written next to each other; the config names them by
 * their bare file names.
 */
export async function startPrometheus(config: string, files: Record<string, string> = {}): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'vc-prometheus-'));
  await writeFile(join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 20 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}/api/v1/${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  }

  return {
    url,
    query: async (expr) => (await api<{ result: PromSample[] }>(`query?query=${encodeURIComponent(expr)}`)).result,
    labelValues: (label, match) => api<string[]>(`label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(match)}`),
    alerts: async () => (await api<{ alerts: PromAlert[] }>('alerts')).alerts,
    targets: async () =>
      (await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('targets')).activeTargets,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
