import { describe, expect, it } from '@jest/globals';
import { planEviction, type Candidate, type EvictionRules } from '../../../src/lifecycle/eviction-plan.js';
import type { ArtifactRef } from '../../../src/storage/driver.js';
import { artifactKey } from '../../../src/storage/object-keys.js';

const NOW = Date.UTC(2026, 0, 31);
const DAY = 86_400_000;

/** A candidate in `namespace`: created `ageDays` ago, read `count` times, last `idleDays` ago. */
function candidate(hash: string, opts: { namespace?: string; size?: number; ageDays: number; count?: number; idleDays?: number }): Candidate {
  const ref: ArtifactRef = { namespace: opts.namespace ?? 'default', hash };
  const createdAt = NOW - opts.ageDays * DAY;
  return {
    id: artifactKey(ref),
    ref,
    size: opts.size ?? 100,
    createdAt,
    count: opts.count ?? 0,
    lastAccess: opts.idleDays === undefined ? createdAt : NOW - opts.idleDays * DAY,
  };
}

const rules = (over: Partial<EvictionRules>): EvictionRules => ({ policy: 'lru', limits: {}, namespaces: {}, ...over });
const victims = (plan: ReturnType<typeof planEviction>) => plan.victims.map((v) => `${v.candidate.ref.hash}:${v.reason}`);

// A fixed workload whose three policies disagree on every position:
//   a: oldest, read most, but not lately       b: middle age, read once, just now
//   c: newest, never read                      d: second oldest, read twice, two days ago
const workload = [
  candidate('a', { ageDays: 10, count: 50, idleDays: 5 }),
  candidate('b', { ageDays: 6, count: 1, idleDays: 0 }),
  candidate('c', { ageDays: 1 }),
  candidate('d', { ageDays: 8, count: 2, idleDays: 2 }),
];

describe('planEviction', () => {
  it.each<[EvictionRules['policy'], string[]]>([
    // Least recently used first: a (read 5 days ago), d (2), c (never read: created 1 day ago), b (now).
    ['lru', ['a:count', 'd:count']],
    // Least frequently used first: c (0 reads), b (1), d (2), a (50).
    ['lfu', ['c:count', 'b:count']],
    // Oldest first: a (10 days), d (8), b (6), c (1).
    ['fifo', ['a:count', 'd:count']],
  ])('%s deletes in its own order until the entry limit holds', (policy, expected) => {
    const plan = planEviction(workload, rules({ policy, limits: { maxEntries: 2 } }), NOW);
    expect(victims(plan)).toEqual(expected);
    expect(plan.kept).toBe(2);
    expect(plan.keptBytes).toBe(200);
  });

  it('the policies differ beyond the first victim (LRU vs FIFO with three to go)', () => {
    expect(victims(planEviction(workload, rules({ policy: 'lru', limits: { maxEntries: 1 } }), NOW))).toEqual(['a:count', 'd:count', 'c:count']);
    expect(victims(planEviction(workload, rules({ policy: 'fifo', limits: { maxEntries: 1 } }), NOW))).toEqual(['a:count', 'd:count', 'b:count']);
    expect(victims(planEviction(workload, rules({ policy: 'lfu', limits: { maxEntries: 1 } }), NOW))).toEqual(['c:count', 'b:count', 'd:count']);
  });

  it('deletes in policy order until the byte limit holds, not the biggest first', () => {
    const sized = [
      candidate('big-new', { size: 700, ageDays: 1 }),
      candidate('small-old', { size: 100, ageDays: 9 }),
      candidate('mid', { size: 300, ageDays: 5 }),
    ];
    const plan = planEviction(sized, rules({ policy: 'fifo', limits: { maxBytes: 750 } }), NOW);
    // FIFO: small-old (1100 -> 1000), mid (-> 700): the newest, biggest one stays.
    expect(victims(plan)).toEqual(['small-old:size', 'mid:size']);
    expect(plan.keptBytes).toBe(700);
  });

  it('a limit that already holds deletes nothing', () => {
    const plan = planEviction(workload, rules({ limits: { maxEntries: 4, maxBytes: 400 } }), NOW);
    expect(plan.victims).toEqual([]);
    expect([plan.kept, plan.keptBytes]).toEqual([4, 400]);
  });

  it('age goes first, whatever the policy, and is reported as age', () => {
    const plan = planEviction(workload, rules({ policy: 'lfu', limits: { maxAge: 7 * 86_400, maxEntries: 1 } }), NOW);
    // a (10 days) and d (8 days) are past 7 days; then LFU among b and c: c (0 reads) goes.
    expect(victims(plan)).toEqual(['a:age', 'd:age', 'c:count']);
    expect(plan.kept).toBe(1);
  });

  it('age is measured from creation, not from the last read', () => {
    const read = [candidate('old-but-hot', { ageDays: 40, count: 1000, idleDays: 0 })];
    expect(victims(planEviction(read, rules({ limits: { maxAge: 30 * 86_400 } }), NOW))).toEqual(['old-but-hot:age']);
  });

  it('a namespace limit trims only its namespace; the store-wide limit then counts what is left', () => {
    const mixed = [
      candidate('t1', { namespace: 'team', ageDays: 5 }),
      candidate('t2', { namespace: 'team', ageDays: 4 }),
      candidate('t3', { namespace: 'team', ageDays: 3 }),
      candidate('o1', { namespace: 'other', ageDays: 9 }),
      candidate('o2', { namespace: 'other', ageDays: 2 }),
    ];
    const plan = planEviction(mixed, rules({ policy: 'fifo', limits: { maxEntries: 3 }, namespaces: { team: { maxEntries: 1 } } }), NOW);
    // team keeps its newest (t3); then store-wide 3 entries left (o1, o2, t3): nothing more goes.
    expect(victims(plan)).toEqual(['t1:count', 't2:count']);
    expect(plan.kept).toBe(3);
    const tighter = planEviction(mixed, rules({ policy: 'fifo', limits: { maxEntries: 2 }, namespaces: { team: { maxEntries: 1 } } }), NOW);
    // Store-wide FIFO then takes the oldest of the survivors: o1.
    expect(victims(tighter)).toEqual(['t1:count', 't2:count', 'o1:count']);
  });

  it('a namespace age limit tighter than the store-wide one applies to that namespace only', () => {
    const mixed = [candidate('t', { namespace: 'team', ageDays: 3 }), candidate('o', { namespace: 'other', ageDays: 3 })];
    const plan = planEviction(mixed, rules({ limits: { maxAge: 30 * 86_400 }, namespaces: { team: { maxAge: 86_400 } } }), NOW);
    expect(victims(plan)).toEqual(['t:age']);
  });

  it('ties are broken by age, then by key, so two replicas plan the same pass', () => {
    const tied = ['k3', 'k1', 'k2'].map((h) => candidate(h, { ageDays: 1 }));
    const one = victims(planEviction(tied, rules({ policy: 'lru', limits: { maxEntries: 1 } }), NOW));
    const other = victims(planEviction([...tied].reverse(), rules({ policy: 'lru', limits: { maxEntries: 1 } }), NOW));
    expect(one).toEqual(['k1:count', 'k2:count']);
    expect(other).toEqual(one);
  });

  it('the reason follows the limit still broken: size while bytes are over, then count', () => {
    const items = ['x1', 'x2', 'x3', 'x4'].map((h, i) => candidate(h, { size: i === 0 ? 1000 : 10, ageDays: 10 - i }));
    const plan = planEviction(items, rules({ policy: 'fifo', limits: { maxBytes: 100, maxEntries: 2 } }), NOW);
    expect(victims(plan)).toEqual(['x1:size', 'x2:count']);
  });
});
