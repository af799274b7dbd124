import type { AccessBatch, AccessDelta } from './access-counter.js';

/** Everything known about every artifact's use, merged from every replica's flushes. */
export interface AccessSnapshot {
  readonly entries: ReadonlyMap<string, AccessDelta>;
  /** Backend bookkeeping: which stored documents this snapshot was merged from (store backend). */
  readonly sources: readonly string[];
}

/**
 * Where every replica's counts meet: Redis when `VC_REDIS_URL` is set (one HINCRBY-style script
 * per flush), else the store itself (one small document per replica per flush, merged at
 * eviction time). Never one write per hit.
 */
export interface AccessStats {
  readonly kind: 'redis' | 'store';
  /** Adds a replica's batch; one round trip (Redis) or one document (store). */
  flush(batch: AccessBatch, signal?: AbortSignal): Promise<void>;
  load(signal?: AbortSignal): Promise<AccessSnapshot>;
  /**
   * After a pass (lease held): drops the statistics of deleted keys and, for the store backend,
   * replaces the documents `snapshot` was merged from by one.
   */
  settle(snapshot: AccessSnapshot, deleted: readonly string[], signal?: AbortSignal): Promise<void>;
}

/** Adds `d` into `into[id]` (counts add up; the latest access wins). */
export function mergeDelta(into: Map<string, AccessDelta>, id: string, d: AccessDelta): void {
  const cur = into.get(id);
  into.set(id, cur ? { count: cur.count + d.count, last: Math.max(cur.last, d.last) } : d);
}
