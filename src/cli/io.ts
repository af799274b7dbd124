import { nodeHttpSend, type HttpSend } from './remote/http-send.js';
import type { TransferClock } from './remote/transfer-watchdog.js';

/** A writable text sink (process.stdout, process.stderr, or a test buffer). */
export interface TextSink {
  write(chunk: string): unknown;
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
}

/**
 * Everything a command touches outside its arguments, passed in so tests can run the real CLI
 * in-process: streams, working directory, environment, network and clock.
 */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  fetch: typeof fetch;
  /** Transport for negotiation and downloads (node:http in the real CLI); else one over `fetch`. */
  send?: HttpSend | undefined;
  now: () => number;
  /** The clock transfer watchdogs read (stall detection); the system's when absent. */
  clock?: TransferClock | undefined;
}

/** Progress bars only for a person watching a terminal: never in CI logs or pipes. */
export function wantsProgress(io: CliIo): boolean {
  const ci = io.env.CI;
  return io.stderr.isTTY === true && (ci === undefined || ci === '' || ci === 'false' || ci === '0');
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    env: process.env,
    fetch: globalThis.fetch.bind(globalThis),
    send: nodeHttpSend(),
    now: () => Date.now(),
  };
}
