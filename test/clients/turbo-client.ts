import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TURBO = join(process.cwd(), 'node_modules', '.bin', 'turbo');

export interface TurboOptions {
  readonly api: string;
  readonly token: string;
  /** `TURBO_TEAM` (sent as `?slug=`). */
  readonly team?: string;
  /** `TURBO_TEAMID` (sent as `?teamId=` when it starts with `team_`). */
  readonly teamId?: string;
  readonly signatureKey?: string;
  readonly args?: readonly string[];
}

export interface ClientRun {
  readonly code: number | null;
  readonly output: string;
}

/**
 * The real `turbo` binary, offline: no telemetry, no update check, a HOME of its own (no user
 * config or login), remote cache settings from the environment only.
 */
export async function runTurbo(dir: string, opts: TurboOptions): Promise<ClientRun> {
  const home = await mkdtemp(join(tmpdir(), 'vc-turbo-home-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    TURBO_TELEMETRY_DISABLED: '1',
    TURBO_NO_UPDATE_NOTIFIER: '1',
    DO_NOT_TRACK: '1',
    TURBO_API: opts.api,
    TURBO_TOKEN: opts.token,
    TURBO_LOG_ORDER: 'grouped',
    NO_COLOR: '1',
    npm_config_update_notifier: 'false',
    ...(opts.team ? { TURBO_TEAM: opts.team } : {}),
    ...(opts.teamId ? { TURBO_TEAMID: opts.teamId } : {}),
    ...(opts.signatureKey ? { TURBO_REMOTE_CACHE_SIGNATURE_KEY: opts.signatureKey } : {}),
  };
  return new Promise((resolve) => {
    execFile(TURBO, ['run', 'build', '--output-logs=full', ...(opts.args ?? [])], { cwd: dir, env, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      void rm(home, { recursive: true, force: true }).finally(() => resolve({ code, output: `${stdout}\n${stderr}` }));
    });
  });
}

/** `Cached:    N cached, M total` from turbo's summary. */
export function turboCached(output: string): { cached: number; total: number } {
  const m = /Cached:\s+(\d+) cached, (\d+) total/.exec(output);
  if (!m) throw new Error(`no turbo summary in:\n${output}`);
  return { cached: Number(m[1]), total: Number(m[2]) };
}
