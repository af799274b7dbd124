import { spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { constants } from 'node:os';
import type { LogChunk } from '../archive/task-archive.js';

export interface ExecResult {
  exitCode: number;
  logs: LogChunk[];
  durationMs: number;
}

export interface ExecOptions {
  command: string;
  cwd: string;
  root: string;
  env: Readonly<Record<string, string | undefined>>;
  now: () => number;
  onOutput: (stream: 1 | 2, text: string) => void;
  signal?: AbortSignal | undefined;
}

/** Exit code of a process killed by a signal, as shells report it (128 + number). */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * Runs a task's command through the shell, as written (the shell expands `$VARS` now, at run
 * time; the key saw the unexpanded text). Like package-manager scripts, the package's and the
 * root's node_modules/.bin come first on PATH. Output is captured for the archive and streamed.
 */
export function execTask(opts: ExecOptions): Promise<ExecResult> {
  const started = opts.now();
  const pathKey = Object.keys(opts.env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  const path = [join(opts.cwd, 'node_modules', '.bin'), join(opts.root, 'node_modules', '.bin'), opts.env[pathKey]]
    .filter((p): p is string => p !== undefined && p !== '')
    .join(delimiter);
  const logs: LogChunk[] = [];
  return new Promise((resolve) => {
    const child = spawn(opts.command, {
      cwd: opts.cwd,
      env: { ...opts.env, [pathKey]: path },
      shell: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: opts.signal,
    });
    const capture = (stream: 1 | 2) => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      logs.push([stream, text]);
      opts.onOutput(stream, text);
    };
    child.stdout.on('data', capture(1));
    child.stderr.on('data', capture(2));
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', (code, signal) => {
      if (spawnError && code === null && signal === null) {
        const text = `velocity: cannot start command: ${spawnError.message}\n`;
        logs.push([2, text]);
        opts.onOutput(2, text);
      }
      const exitCode = code ?? (signal ? signalExitCode(signal) : 1);
      resolve({ exitCode, logs, durationMs: opts.now() - started });
    });
  });
}
