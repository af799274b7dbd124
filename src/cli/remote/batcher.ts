/**
 * Collects requests made in the same turn of the event loop and sends them together: tasks that
 * become ready at once share one batch negotiation instead of one round trip each.
 */
export class Batcher<Req, Res> {
  readonly #send: (items: Req[]) => Promise<Res[]>;
  readonly #max: number;
  #queue: Array<{ item: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }> = [];
  #scheduled = false;

  constructor(send: (items: Req[]) => Promise<Res[]>, max: number) {
    this.#send = send;
    this.#max = max;
  }

  request(item: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (let i = 0; i < queue.length; i += this.#max) {
      const slice = queue.slice(i, i + this.#max);
      this.#send(slice.map((q) => q.item)).then(
        (results) => slice.forEach((q, j) => q.resolve(results[j] as Res)),
        (err: unknown) => slice.forEach((q) => q.reject(err)),
      );
    }
  }
}
