import type { TextSink } from '../io.js';

/**
 * Human output, always on stderr (stdout is kept for `--json`): status lines, warnings, and the
 * tasks' output as their TaskLogs (task-log.ts) present it.
 */
export class Reporter {
  readonly #err: TextSink;
  readonly warnings: string[] = [];
  #buffer = '';
  #scheduled = false;

  constructor(stderr: TextSink) {
    this.#err = stderr;
  }

  /**
   * Off a terminal, output is gathered and written once per event-loop turn: an all-hit run
   * replays hundreds of lines in a burst, and stderr pipes are written synchronously, one
   * syscall (and a wake-up of the reader) per write. On a terminal it is written at once, so it
   * interleaves correctly with progress bars. Live task output is still at most a turn late.
   */
  write(text: string): void {
    if (this.#err.isTTY === true) {
      this.#err.write(text);
      return;
    }
    this.#buffer += text;
    if (this.#buffer.length >= 64 * 1024) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes whatever is gathered; call it before anything else writes to the same stream. */
  flush(): void {
    this.#scheduled = false;
    if (this.#buffer === '') return;
    const text = this.#buffer;
    this.#buffer = '';
    this.#err.write(text);
  }

  line(text: string): void {
    this.write(`${text}\n`);
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.write(`velocity: warning: ${message}\n`);
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${((ms % 60_000) / 1000).toFixed(1)}s`;
}
