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

  constructor(stderr: TextSink) {
    this.#err = stderr;
  }

  line(text: string): void {
    this.#err.write(`${text}\n`);
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.#err.write(`velocity: warning: ${message}\n`);
  }

  #prefixer(label: string, stream: 1 | 2): LinePrefixer {
    const id = `${label}\u0000${stream}`;
    let p = this.#prefixers.get(id);
    if (!p) {
      p = new LinePrefixer(`${label}: `, (t) => this.#err.write(t));
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
