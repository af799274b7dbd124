import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientRun } from './turbo-client.js';

const NX = join(process.cwd(), 'node_modules', '.bin', 'nx');

/**
 * The real `nx` binary, offline: no daemon, no Nx Cloud, no TUI, plugins in-process, a HOME of
 * its own; the self-hosted remote cache from the environment (`server` may carry `/ns/{namespace}`).
 */
export async function runNx(dir: string, opts: { server: string; token: string }): Promise<ClientRun> {
  const home = await mkdtemp(join(tmpdir(), 'vc-nx-home-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    NX_ISOLATE_PLUGINS: 'false',
    NX_SKIP_NX_CACHE: 'false',
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: opts.server,
    NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: opts.token,
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
  return new Promise((resolve) => {
    execFile(NX, ['run-many', '-t', 'build', '--output-style=static'], { cwd: dir, env, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      void rm(home, { recursive: true, force: true }).finally(() => resolve({ code, output: `${stdout}\n${stderr}` }));
    });
  });
}

/** Tasks Nx restored from the remote cache (`[remote cache]` in static output). */
export function nxRemoteHits(output: string): number {
  return output.split('[remote cache]').length - 1;
}
