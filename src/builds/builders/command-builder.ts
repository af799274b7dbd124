import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildFailure } from '../build-failure.js';
import { canonicalJson } from '../canonical-request.js';
import type { BuildInput, BuildOutput, Builder } from './builder.js';
import { buildCommandEnv } from './command-env.js';
import { watchBuildGroup } from './orphan-watchdog.js';

/** Exit status a command uses for "try again later" (sysexits' EX_TEMPFAIL); any other failure is final. */
export const EXIT_TEMPFAIL = 75;
const TAIL_LINES = 50;

export interface CommandBuilderOptions {
  /** Run with `/bin/sh -c`. */
  readonly command: string;
  /** Parent of the per-build directories; the system's temp directory by default. */
  readonly workDir?: string | undefined;
  /** Where the safe set and the declared variables are read from (the worker's own environment). */
  readonly sourceEnv: Readonly<Record<string, string | undefined>>;
  /** Names passed through besides the safe set (`VC_BUILD_ENV`). */
  readonly passEnv: readonly string[];
}

/**
 * Runs `VC_BUILD_COMMAND` with the canonical request as JSON on stdin and a clean environment
 * (command-env.ts). The binary is what the command writes to `$VELOCITY_OUTPUT`; its stdout and
 * stderr are the build output.
 */
export function createCommandBuilder(opts: CommandBuilderOptions): Builder {
  const parent = opts.workDir ?? tmpdir();

  async function build(input: BuildInput): Promise<BuildOutput> {
    await mkdir(parent, { recursive: true });
    const dir = await mkdtemp(join(parent, 'velocity-build-'));
    const dispose = () => rm(dir, { recursive: true, force: true });
    const output = join(dir, 'binary');
    try {
      const env = buildCommandEnv(opts.sourceEnv, opts.passEnv, {
        output,
        workDir: dir,
        key: input.key,
        rrVersion: input.canonical.rr_version,
        os: input.canonical.target_platform.os,
        arch: input.canonical.target_platform.arch,
      });
      const { code, signal, stderrTail } = await run(opts.command, env, input, dir);
      if (input.signal.aborted) throw input.signal.reason;
      if (code !== 0) {
        const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with status ${code}`;
        throw new BuildFailure(`build command ${how}${stderrTail.length ? `: ${stderrTail[stderrTail.length - 1]}` : ''}`, {
          code: code === EXIT_TEMPFAIL ? 'builder_unavailable' : 'build_failed',
          retryable: code === EXIT_TEMPFAIL,
          logsTail: stderrTail,
        });
      }
      const info = await stat(output).catch(() => null);
      if (!info?.isFile() || info.size === 0) {
        throw new BuildFailure('build command succeeded but wrote no binary to $VELOCITY_OUTPUT', {
          code: 'build_failed',
          retryable: false,
          logsTail: stderrTail,
        });
      }
      return { path: output, dispose };
    } catch (err) {
      await dispose();
      throw err;
    }
  }

  return { kind: 'command', build, close: () => Promise.resolve() };
}

function run(
  command: string,
  env: Readonly<Record<string, string>>,
  input: BuildInput,
  workDir: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderrTail: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], {
      // Its own process group, so a cancellation kills whatever the command started too.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env,
    });
    // Should the worker die before the build ends, the group and its directory go with it.
    const watchdog = child.pid === undefined ? undefined : watchBuildGroup(child.pid, workDir);
    const stderrTail: string[] = [];
    const kill = () => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    };
    if (input.signal.aborted) kill();
    input.signal.addEventListener('abort', kill, { once: true });
    const lines = (keep: boolean) => {
      let partial = '';
      return (chunk: Buffer | null) => {
        const text = partial + (chunk === null ? '\n' : chunk.toString('utf8'));
        const parts = text.split(/\r?\n/);
        partial = parts.pop() ?? '';
        const complete = chunk === null ? parts.filter((l) => l !== '') : parts;
        if (complete.length === 0) return;
        input.onLog(complete);
        if (keep) {
          stderrTail.push(...complete);
          if (stderrTail.length > TAIL_LINES) stderrTail.splice(0, stderrTail.length - TAIL_LINES);
        }
      };
    };
    const onStdout = lines(false);
    const onStderr = lines(true);
    child.stdout.on('data', onStdout);
    child.stdout.on('end', () => onStdout(null));
    child.stderr.on('data', onStderr);
    child.stderr.on('end', () => onStderr(null));
    // A command that ignores stdin closes it early: that is not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(canonicalJson(input.canonical));
    child.on('error', (err) => {
      watchdog?.stop();
      input.signal.removeEventListener('abort', kill);
      reject(new BuildFailure(`could not start the build command: ${err.message}`, { code: 'build_failed', retryable: false }));
    });
    child.on('close', (code, signal) => {
      // The shell is gone, but whatever it left in the background still belongs to the build.
      kill();
      watchdog?.stop();
      input.signal.removeEventListener('abort', kill);
      resolve({ code, signal, stderrTail });
    });
  });
}
