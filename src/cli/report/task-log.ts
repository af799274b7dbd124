import type { LogChunk } from '../archive/task-archive.js';
import { LinePrefixer } from '../run/line-prefixer.js';
import { packagePaint, plain } from './colors.js';

/** `--output-logs`: what of a task's output is shown (its logs are cached whole either way). */
export const OUTPUT_LOGS = ['full', 'hash-only', 'new-only', 'errors-only', 'none'] as const;
export type OutputLogs = (typeof OUTPUT_LOGS)[number];

/** `--log-order`: lines as they come, or each task's output in one block when it ends. */
export const LOG_ORDERS = ['stream', 'grouped'] as const;
export type LogOrder = (typeof LOG_ORDERS)[number];

export interface TaskLogOptions {
  outputLogs: OutputLogs;
  logOrder: LogOrder;
  color: boolean;
}

/**
 * What a run shows of one task, as turborepo does for each `--output-logs` mode:
 *
 * | mode        | hit                              | miss                       | failure            |
 * | full        | "cache hit", the replayed logs   | "cache miss", live output  | output, exit code  |
 * | hash-only   | "cache hit, suppressing logs"    | "cache miss"               | exit code          |
 * | new-only    | "cache hit, suppressing logs"    | "cache miss", live output  | output, exit code  |
 * | errors-only | nothing                          | nothing                    | everything, at end |
 * | none        | nothing                          | nothing                    | exit code          |
 *
 * Every line starts with the task's `package:task: ` prefix, in the package's colour when colour
 * is on. With `grouped`, and for `errors-only` (which must wait to know), the task's lines are
 * held and written in one block when it ends.
 */
export class TaskLog {
  readonly #label: string;
  readonly #prefix: string;
  readonly #opts: TaskLogOptions;
  readonly #sink: (text: string) => void;
  readonly #streams: [LinePrefixer, LinePrefixer];
  /** Modes in which a command's own output is shown (errors-only: if it fails). */
  readonly #showOutput: boolean;
  #held: string[] | null;

  constructor(label: string, pkg: string, opts: TaskLogOptions, sink: (text: string) => void) {
    this.#label = label;
    this.#opts = opts;
    this.#sink = sink;
    this.#prefix = `${(opts.color ? packagePaint(pkg) : plain)(`${label}:`)} `;
    this.#held = opts.logOrder === 'grouped' || opts.outputLogs === 'errors-only' ? [] : null;
    this.#showOutput = opts.outputLogs === 'full' || opts.outputLogs === 'new-only' || opts.outputLogs === 'errors-only';
    const out = (text: string): void => this.#emit(text);
    this.#streams = [new LinePrefixer(this.#prefix, out), new LinePrefixer(this.#prefix, out)];
  }

  get label(): string {
    return this.#label;
  }

  #emit(text: string): void {
    if (this.#held) this.#held.push(text);
    else this.#sink(text);
  }

  #line(text: string): void {
    this.#emit(`${this.#prefix}${text}\n`);
  }

  /** A cache hit: its header and, in `full`, the logs it recorded; the task is then over. */
  hit(source: 'local' | 'remote', key: string, logs: readonly LogChunk[]): void {
    const mode = this.#opts.outputLogs;
    if (mode === 'full') {
      this.#line(`cache hit (${source}) ${key.slice(0, 16)}, replaying logs`);
      for (const [stream, text] of logs) this.output(stream, text);
      this.#flushStreams();
      this.#release(true);
      return;
    }
    if (mode === 'hash-only' || mode === 'new-only') this.#line(`cache hit (${source}) ${key.slice(0, 16)}, suppressing logs`);
    this.#release(true);
  }

  /** The command starts: a miss, or a bypass under `--force`. */
  start(key: string, command: string, bypass: boolean): void {
    if (this.#opts.outputLogs === 'none') return;
    this.#line(bypass ? `cache bypass ${key.slice(0, 16)}, force running: ${command}` : `cache miss ${key.slice(0, 16)}, running: ${command}`);
  }

  /** Output of the running command (whole lines are prefixed; a partial line waits). */
  output(stream: 1 | 2, text: string): void {
    if (this.#showOutput) this.#streams[stream === 1 ? 0 : 1].push(text);
  }

  /** The command exited 0. */
  succeeded(): void {
    this.#flushStreams();
    this.#release(this.#opts.outputLogs !== 'errors-only');
  }

  /** The command failed: shown in every mode, with whatever the mode kept of its output. */
  failed(exitCode: number): void {
    this.#flushStreams();
    this.#line(`failed with exit code ${exitCode}`);
    this.#release(true);
  }

  #flushStreams(): void {
    for (const s of this.#streams) s.flush();
  }

  #release(show: boolean): void {
    const held = this.#held;
    this.#held = null;
    if (held && show && held.length > 0) this.#sink(held.join(''));
  }
}

/** Makes each task's log, all writing to one sink (the run's reporter). */
export class TaskLogs {
  readonly #opts: TaskLogOptions;
  readonly #sink: (text: string) => void;

  constructor(opts: TaskLogOptions, sink: (text: string) => void) {
    this.#opts = opts;
    this.#sink = sink;
  }

  for(label: string, pkg: string): TaskLog {
    return new TaskLog(label, pkg, this.#opts, this.#sink);
  }
}
