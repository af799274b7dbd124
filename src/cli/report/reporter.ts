import type { TextSink } from '../io.js';
import { LinePrefixer } from '../run/line-prefixer.js';

/**
 * Human output, always on stderr (stdout is kept for `--json`). Task output is prefixed with
 * `package:task: ` per line so parallel tasks stay readable.
 */
export class Reporter {
  readonly #err: TextSink;
  readonly #prefixers = new Map<string, LinePrefixer>();
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
  #write(text: string): void {
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
    this.#write(`${text}\n`);
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.#write(`velocity: warning: ${message}\n`);
  }

  #prefixer(label: string, stream: 1 | 2): LinePrefixer {
    const id = `${label}\u0000${stream}`;
    let p = this.#prefixers.get(id);
    if (!p) {
      p = new LinePrefixer(`${label}: `, (t) => this.#write(t));
      this.#prefixers.set(id, p);
    }
    return p;
  }

  taskOutput(label: string, stream: 1 | 2, text: string): void {
    this.#prefixer(label, stream).push(text);
  }

  taskDone(label: string): void {
    for (const stream of [1, 2] as const) {
      const id = `${label}\u0000${stream}`;
      this.#prefixers.get(id)?.flush();
      this.#prefixers.delete(id);
    }
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${((ms % 60_000) / 1000).toFixed(1)}s`;
}
