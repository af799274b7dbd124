/**
 * Turns a stream of text chunks into whole lines, each with a prefix, so the output of tasks
 * running side by side stays readable. A partial last line is held until the next chunk or flush.
 */
export class LinePrefixer {
  readonly #prefix: string;
  readonly #write: (text: string) => void;
  #pending = '';

  constructor(prefix: string, write: (text: string) => void) {
    this.#prefix = prefix;
    this.#write = write;
  }

  push(chunk: string): void {
    const text = this.#pending + chunk;
    const lastNewline = text.lastIndexOf('\n');
    if (lastNewline === -1) {
      this.#pending = text;
      return;
    }
    this.#pending = text.slice(lastNewline + 1);
    const lines = text.slice(0, lastNewline).split('\n');
    this.#write(lines.map((l) => `${this.#prefix}${l.replace(/\r$/, '')}\n`).join(''));
  }

  flush(): void {
    if (this.#pending !== '') this.#write(`${this.#prefix}${this.#pending}\n`);
    this.#pending = '';
  }
}
