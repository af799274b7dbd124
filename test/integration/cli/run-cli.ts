import { main } from '../../../src/cli/main.js';
import type { CliIo, TextSink } from '../../../src/cli/io.js';
import { nodeHttpSend } from '../../../src/cli/remote/http-send.js';

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
  opts: { cwd: string; env?: Record<string, string | undefined>; fetch?: typeof fetch },
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
  };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}
