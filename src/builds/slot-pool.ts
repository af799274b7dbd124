import type { Logger } from 'pino';
import type { Builder, BuilderFactory } from './builders/builder.js';

export interface Slot {
  readonly index: number;
  builder: Builder;
  /** Builds since the slot was (re)made. */
  builds: number;
  /** How many times the slot was recycled. */
  recycled: number;
}

/**
 * The worker's build slots: as many as the concurrency limit, each with its own builder. After
 * `recycleAfter` builds a slot's builder is closed and made again (fresh connections, nothing left
 * over from earlier builds), as a worker pool recycles its workers after N jobs.
 */
export class SlotPool {
  private readonly slots: Slot[];
  private readonly free: Slot[];
  private readonly waiting: ((slot: Slot) => void)[] = [];

  constructor(
    size: number,
    private readonly factory: BuilderFactory,
    private readonly recycleAfter: number,
    private readonly logger: Logger,
  ) {
    this.slots = Array.from({ length: size }, (_, index) => ({ index, builder: factory(), builds: 0, recycled: 0 }));
    this.free = [...this.slots];
  }

  acquire(): Promise<Slot> {
    const slot = this.free.shift();
    if (slot) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async release(slot: Slot): Promise<void> {
    slot.builds++;
    if (this.recycleAfter > 0 && slot.builds >= this.recycleAfter) {
      const old = slot.builder;
      slot.builder = this.factory();
      slot.builds = 0;
      slot.recycled++;
      this.logger.info({ slot: slot.index, recycled: slot.recycled }, 'build slot recycled');
      await old.close().catch((err: unknown) => this.logger.warn({ err }, 'could not close a recycled builder'));
    }
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }

  stats(): readonly { readonly index: number; readonly builds: number; readonly recycled: number }[] {
    return this.slots.map((s) => ({ index: s.index, builds: s.builds, recycled: s.recycled }));
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.builder.close().catch(() => undefined)));
  }
}
