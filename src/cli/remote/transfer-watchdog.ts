import { RemoteUnavailableError } from '../errors.js';

/** The time a watchdog reads and the ticks it is woken by: injected, so tests need not wait. */
export interface TransferClock {
  now(): number;
  /** Calls `tick` every `ms` until the returned function is called; never holds the process open. */
  every(ms: number, tick: () => void): () => void;
}

export const systemClock: TransferClock = {
  now: () => Date.now(),
  every: (ms, tick) => {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** velocity.yml `remote.transfer`. */
export interface TransferLimits {
  /** No byte moved for this long: stalled. */
  idleTimeoutMs: number;
  /** Fewer bytes per second than this, averaged over `windowMs`: too slow to wait for (0: off). */
  minBytesPerSecond: number;
  windowMs: number;
}

export const DEFAULT_TRANSFER_LIMITS: TransferLimits = { idleTimeoutMs: 30_000, minBytesPerSecond: 1024, windowMs: 30_000 };

const HINT = 'the store or the network is stalling; the run goes on without the remote (remote.transfer in velocity.yml sets the limits)';

/**
 * Watches one transfer (a presigned GET or PUT) and aborts it, through `signal`, when it stalls:
 * no byte for `idleTimeoutMs` (a PUT that never answers), or less than `minBytesPerSecond` over
 * the last `windowMs` (a download trickling a byte every 2 s, which an idle timeout alone never
 * catches). The reason is then `stalled`, a RemoteUnavailableError: the run goes on without the
 * remote, instead of waiting for minutes.
 */
export class TransferWatchdog {
  readonly #controller = new AbortController();
  readonly #clock: TransferClock;
  readonly #limits: TransferLimits;
  readonly #what: string;
  readonly #stop: () => void;
  /** [time, total bytes] at each tick, covering the last window. */
  readonly #samples: Array<[number, number]>;
  #bytes = 0;
  #lastProgress: number;
  #stalled: RemoteUnavailableError | undefined;

  constructor(what: string, limits: TransferLimits, clock: TransferClock) {
    this.#what = what;
    this.#limits = limits;
    this.#clock = clock;
    const start = clock.now();
    this.#lastProgress = start;
    this.#samples = [[start, 0]];
    // A tenth of the shorter limit: a stall is caught within 10% of its limit.
    this.#stop = clock.every(Math.max(1, Math.min(limits.idleTimeoutMs, limits.windowMs) / 10), () => this.#tick());
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Why the transfer was aborted, if it was. */
  get stalled(): RemoteUnavailableError | undefined {
    return this.#stalled;
  }

  progress(bytes: number): void {
    if (bytes <= 0) return;
    this.#bytes += bytes;
    this.#lastProgress = this.#clock.now();
  }

  stop(): void {
    this.#stop();
  }

  #tick(): void {
    const now = this.#clock.now();
    const idle = now - this.#lastProgress;
    if (idle >= this.#limits.idleTimeoutMs) {
      return this.#abort(`${this.#what} stalled: no data for ${seconds(idle)}`);
    }
    this.#samples.push([now, this.#bytes]);
    // Keep the newest sample at least a window old as the base of the average.
    while (this.#samples.length > 1 && (this.#samples[1] as [number, number])[0] <= now - this.#limits.windowMs) this.#samples.shift();
    const [since, before] = this.#samples[0] as [number, number];
    const span = now - since;
    if (this.#limits.minBytesPerSecond === 0 || span < this.#limits.windowMs) return;
    const rate = ((this.#bytes - before) * 1000) / span;
    if (rate < this.#limits.minBytesPerSecond) {
      this.#abort(`${this.#what} too slow: ${rate.toFixed(1)} bytes/s over the last ${seconds(span)} (the minimum is ${this.#limits.minBytesPerSecond})`);
    }
  }

  #abort(message: string): void {
    this.#stalled = new RemoteUnavailableError(message, { hint: HINT });
    this.#stop();
    this.#controller.abort(this.#stalled);
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
