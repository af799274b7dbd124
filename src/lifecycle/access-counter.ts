import type { ArtifactRef } from '../storage/driver.js';
import { artifactKey } from '../storage/object-keys.js';

/** Counts one use of an artifact. Called on the hit path: a Map update, no I/O, no promise. */
export interface AccessRecorder {
  hit(ref: ArtifactRef): void;
}

/** Hits of one artifact since the last flush; `id` is its object key (object-keys.ts). */
export interface AccessDelta {
  readonly count: number;
  /** Epoch ms of the latest hit. */
  readonly last: number;
}

export type AccessBatch = ReadonlyMap<string, AccessDelta>;

/**
 * This replica's hits since the last flush, counted exactly: a key read 1,000 times between two
 * flushes goes out as +1,000 (the Velox middleware this replaces sent +1 per flush, whatever the
 * number of hits). A flush takes the whole batch; a flush that fails gives it back, so an outage
 * of the shared store delays counts but does not lose them.
 */
export class AccessCounter implements AccessRecorder {
  private pending = new Map<string, { count: number; last: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  hit(ref: ArtifactRef): void {
    const id = artifactKey(ref);
    const entry = this.pending.get(id);
    if (entry) {
      entry.count++;
      entry.last = this.now();
    } else {
      this.pending.set(id, { count: 1, last: this.now() });
    }
  }

  /** Everything counted so far; the counter starts again from empty. */
  take(): AccessBatch {
    const batch = this.pending;
    this.pending = new Map();
    return batch;
  }

  /** Gives back a batch whose flush failed (merged with what was counted meanwhile). */
  restore(batch: AccessBatch): void {
    for (const [id, d] of batch) {
      const entry = this.pending.get(id);
      if (entry) {
        entry.count += d.count;
        entry.last = Math.max(entry.last, d.last);
      } else {
        this.pending.set(id, { count: d.count, last: d.last });
      }
    }
  }

  get size(): number {
    return this.pending.size;
  }
}
