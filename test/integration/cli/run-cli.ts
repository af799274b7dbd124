import { main } from '../../../src/cli/main.js';
import type { CliIo, TextSink } from '../../../src/cli/io.js';
import { nodeHttpSend } from '../../../src/cli/remote/http-send.js';
import type { TransferClock } from '../../../src/cli/remote/transfer-watchdog.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

class Capture implements TextSink {
  text = '';
  readonly isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** Runs the real CLI in-process with captured streams, a chosen directory and environment. */
export async function runCli(
  argv: string[],
  opts: { cwd: string; env?: Record<string, string | undefined>; fetch?: typeof fetch; clock?: TransferClock },
): Promise<CliResult> {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = {
    stdout,
    stderr,
    cwd: opts.cwd,
    env: { ...process.env, CI: '1', VELOCITY_CACHE_DIR: undefined, ...opts.env },
    fetch: opts.fetch ?? globalThis.fetch.bind(globalThis),
    // A test that fakes the network through `fetch` gets the fetch transport; others get the real one.
    send: opts.fetch ? undefined : nodeHttpSend(),
    now: () => Date.now(),
    clock: opts.clock,
  };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/**
 * A transfer clock running `factor` times faster than the wall clock: the CLI's default stall
 * limits (30 s) then pass in half a second, so a test of them takes seconds, not minutes.
 */
export function fastClock(factor: number): TransferClock {
  const t0 = Date.now();
  return {
    now: () => t0 + (Date.now() - t0) * factor,
    every: (ms, tick) => {
      const timer = setInterval(tick, Math.max(1, ms / factor));
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
