import type { ArtifactRef } from '../storage/driver.js';
import type { EvictionLimits, EvictionPolicy } from './lifecycle-config.js';

/** One artifact as eviction sees it. */
export interface Candidate {
  /** Object key (object-keys.ts): also the access statistics' id. */
  readonly id: string;
  readonly ref: ArtifactRef;
  readonly size: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Hits ever counted (LFU). */
  readonly count: number;
  /** Epoch ms of the latest hit; the creation time when never read (LRU). */
  readonly lastAccess: number;
}

/** Why an artifact went: a bounded label set (`vc_evictions_total{reason}`). */
export type EvictionReason = 'age' | 'size' | 'count';

export interface Victim {
  readonly candidate: Candidate;
  readonly reason: EvictionReason;
}

export interface EvictionRules {
  readonly policy: EvictionPolicy;
  readonly limits: EvictionLimits;
  readonly namespaces: Readonly<Record<string, EvictionLimits>>;
}

export interface EvictionPlan {
  /** In deletion order. */
  readonly victims: readonly Victim[];
  readonly kept: number;
  readonly keptBytes: number;
}

/** Who goes first under each policy; ties fall back to age, then key, so a plan is deterministic. */
const ORDER: Readonly<Record<EvictionPolicy, (a: Candidate, b: Candidate) => number>> = {
  lru: (a, b) => a.lastAccess - b.lastAccess || a.createdAt - b.createdAt || cmp(a.id, b.id),
  lfu: (a, b) => a.count - b.count || a.lastAccess - b.lastAccess || a.createdAt - b.createdAt || cmp(a.id, b.id),
  fifo: (a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id),
};

/**
 * What a pass deletes, pure: first everything past its age limit (store-wide or its namespace's),
 * then, per namespace with limits, the policy's first artifacts until that namespace's bytes and
 * count hold, then store-wide the same, until every limit holds.
 */
export function planEviction(candidates: readonly Candidate[], rules: EvictionRules, now: number): EvictionPlan {
  const victims: Victim[] = [];
  const gone = new Set<string>();
  for (const c of candidates) {
    const maxAge = minDefined(rules.limits.maxAge, rules.namespaces[c.ref.namespace]?.maxAge);
    if (maxAge !== undefined && now - c.createdAt > maxAge * 1000) {
      victims.push({ candidate: c, reason: 'age' });
      gone.add(c.id);
    }
  }
  const order = ORDER[rules.policy];
  const alive = candidates.filter((c) => !gone.has(c.id)).sort(order);
  for (const [namespace, limits] of Object.entries(rules.namespaces)) {
    trim(alive.filter((c) => c.ref.namespace === namespace), limits, victims, gone);
  }
  const survivors = alive.filter((c) => !gone.has(c.id));
  const kept = trim(survivors, rules.limits, victims, gone);
  return { victims, kept: kept.count, keptBytes: kept.bytes };
}

/** Deletes from the front of `sorted` until `limits` hold; returns what is left. */
function trim(sorted: readonly Candidate[], limits: EvictionLimits, victims: Victim[], gone: Set<string>): { count: number; bytes: number } {
  const live = sorted.filter((c) => !gone.has(c.id));
  let count = live.length;
  let bytes = live.reduce((sum, c) => sum + c.size, 0);
  const overBytes = (): boolean => limits.maxBytes !== undefined && bytes > limits.maxBytes;
  const overCount = (): boolean => limits.maxEntries !== undefined && count > limits.maxEntries;
  let i = 0;
  while ((overBytes() || overCount()) && i < live.length) {
    const c = live[i++] as Candidate;
    victims.push({ candidate: c, reason: overBytes() ? 'size' : 'count' });
    gone.add(c.id);
    count--;
    bytes -= c.size;
  }
  return { count, bytes };
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
