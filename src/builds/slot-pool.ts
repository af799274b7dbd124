import type { Logger } from 'pino';
import type { Builder, BuilderFactory } from './builders/builder.js';

export interface Slot {
  readonly index: number;
  builder: Builder;
  /** Builds since the slot was (re)made. */
  builds: number;
  /** How many times the slot was recycled. */
  recycled: number;
  /** Set while free: the timer that retires the slot once idle too long (above the minimum). */
  idleTimer?: NodeJS.Timeout | undefined;
}

export interface SlotPoolOptions {
  /** Slots kept even when idle (VC_BUILD_MIN_SLOTS). */
  readonly min: number;
  /** Builds at once (VC_BUILD_CONCURRENCY). */
  readonly max: number;
  /** A slot's builder is made again after this many builds (0: never). */
  readonly recycleAfter: number;
  /** A free slot above the minimum is retired after this long unused (ms). */
  readonly idleMs: number;
}

/** What `/stats` shows of the pool (Narya's `/debug/workers`). */
export interface SlotPoolStats {
  readonly min: number;
  readonly max: number;
  readonly busy: number;
  readonly idle: number;
  readonly waiting: number;
  /** Builds (attempts) the slots have finished, all slots ever made included. */
  readonly buildsDone: number;
  readonly recycled: number;
  /** Slots retired for being idle above the minimum. */
  readonly retired: number;
  readonly slots: readonly { readonly index: number; readonly busy: boolean; readonly builds: number; readonly recycled: number }[];
}

/**
 * The worker's build slots, each with its own builder: `min` made up front, more up to `max` on
 * demand, the extra ones retired once idle for `idleMs` (as a worker pool between min and max
 * workers). After `recycleAfter` builds a slot's builder is closed and made again (fresh
 * connections, nothing left over from earlier builds), as a pool recycles its workers after N jobs.
 */
export class SlotPool {
  private readonly slots = new Set<Slot>();
  private readonly free: Slot[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private nextIndex = 0;
  private buildsDone = 0;
  private recycledTotal = 0;
  private retired = 0;
  private closed = false;

  constructor(
    private readonly opts: SlotPoolOptions,
    private readonly factory: BuilderFactory,
    private readonly logger: Logger,
  ) {
    for (let i = 0; i < Math.min(opts.min, opts.max); i++) this.free.push(this.make());
  }

  acquire(): Promise<Slot> {
    // Most recently used first: the others stay idle long enough to be retired.
    const slot = this.free.pop() ?? (this.slots.size < this.opts.max ? this.make() : undefined);
    if (slot) {
      clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      return Promise.resolve(slot);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async release(slot: Slot): Promise<void> {
    slot.builds++;
    this.buildsDone++;
    if (this.opts.recycleAfter > 0 && slot.builds >= this.opts.recycleAfter) {
      const old = slot.builder;
      slot.builder = this.factory();
      slot.builds = 0;
      slot.recycled++;
      this.recycledTotal++;
      this.logger.info({ slot: slot.index, recycled: slot.recycled }, 'build slot recycled');
      await old.close().catch((err: unknown) => this.logger.warn({ err }, 'could not close a recycled builder'));
    }
    const next = this.waiting.shift();
    if (next) {
      next(slot);
      return;
    }
    this.free.push(slot);
    if (this.slots.size > this.opts.min && !this.closed) {
      slot.idleTimer = setTimeout(() => void this.retire(slot), this.opts.idleMs);
      slot.idleTimer.unref();
    }
  }

  stats(): SlotPoolStats {
    const free = new Set(this.free);
    return {
      min: this.opts.min,
      max: this.opts.max,
      busy: this.slots.size - free.size,
      idle: free.size,
      waiting: this.waiting.length,
      buildsDone: this.buildsDone,
      recycled: this.recycledTotal,
      retired: this.retired,
      slots: [...this.slots].map((s) => ({ index: s.index, busy: !free.has(s), builds: s.builds, recycled: s.recycled })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots) clearTimeout(slot.idleTimer);
    await Promise.all([...this.slots].map((s) => s.builder.close().catch(() => undefined)));
  }

  private make(): Slot {
    const slot: Slot = { index: this.nextIndex++, builder: this.factory(), builds: 0, recycled: 0 };
    this.slots.add(slot);
    return slot;
  }

  private async retire(slot: Slot): Promise<void> {
    const at = this.free.indexOf(slot);
    if (at === -1 || this.slots.size <= this.opts.min) return;
    this.free.splice(at, 1);
    this.slots.delete(slot);
    this.retired++;
    this.logger.debug({ slot: slot.index }, 'idle build slot retired');
    await slot.builder.close().catch((err: unknown) => this.logger.warn({ err }, 'could not close an idle builder'));
  }
}
