import { VelocityError } from '../errors.js';
import type { LifecycleMetrics } from '../metrics/lifecycle-metrics.js';
import type { ArtifactRef, KeySpace, ListedArtifact, StorageDriver, SweepReport } from '../storage/driver.js';
import { KEY_SPACES, artifactKey, spaceOf } from '../storage/object-keys.js';
import type { AccessStats } from './access-stats.js';
import { planEviction, type Candidate, type EvictionRules, type Victim } from './eviction-plan.js';
import { listAll } from './inventory.js';
import type { LeaseHandle, LeaseProvider } from './lease.js';

/** Another replica (or an earlier call) is running a pass. */
export class GcBusyError extends VelocityError {
  constructor() {
    super('a garbage collection pass is running on another replica; try again later', {
      status: 409,
      code: 'gc_running',
      headers: { 'Retry-After': '30' },
    });
  }
}

export interface GcDeps {
  readonly store: StorageDriver;
  readonly stats: AccessStats;
  /** Sends this replica's pending counts out first, so a pass sees its own latest hits. */
  readonly flushLocal: (signal?: AbortSignal) => Promise<void>;
  readonly leases: LeaseProvider;
  readonly rules: EvictionRules;
  readonly leaseTtlMs: number;
  /** Uploads and temporary files untouched this long are abandoned. */
  readonly abandonedAfterMs: number;
  readonly metrics: LifecycleMetrics;
  /** Called for every deleted ref: this replica's L1 stops answering `found` at once. */
  readonly forget: (ref: ArtifactRef) => void;
  readonly now: () => number;
}

export interface GcItem {
  readonly space: string;
  readonly namespace: string;
  readonly hash: string;
  readonly size: number;
  readonly reason: string;
}

export interface GcReport {
  readonly deleted: number;
  readonly freed_bytes: number;
  /** Artifacts left after the pass. */
  readonly kept: number;
  readonly kept_bytes: number;
  readonly duration_ms: number;
  readonly dry_run: boolean;
  /** False when the lease was lost half-way: another replica carries on. */
  readonly complete: boolean;
  readonly swept: SweepReport;
  /** Dry runs only: what would be deleted, in order (at most MAX_LISTED). */
  readonly items?: readonly GcItem[];
}

const DELETE_BATCH = 1000;
const MAX_LISTED = 10_000;
const NOTHING_SWEPT: SweepReport = { uploads: 0, orphans: 0, temporary: 0, freedBytes: 0 };

/**
 * One eviction and sweeping pass, run by whichever replica holds the lease. It lists every
 * artifact of every key space, merges the access statistics of every replica, plans with the
 * configured policy (eviction-plan.ts), deletes in batches of up to 1,000 (renewing the lease
 * between batches and stopping the moment it is lost), sweeps abandoned uploads and temporary
 * files, then settles the statistics. A pass that dies leaves a consistent store: the next holder
 * plans again from what is there, which is how it resumes.
 */
export async function runGcPass(deps: GcDeps, opts: { dryRun: boolean; signal?: AbortSignal }): Promise<GcReport> {
  const timer = deps.metrics.gcDuration.startTimer();
  const lease = await deps.leases.tryAcquire('gc', deps.leaseTtlMs, opts.signal);
  if (!lease) throw new GcBusyError();
  const keeper = leaseKeeper(lease, deps);
  let result = 'error';
  try {
    const report = await pass(deps, opts, keeper);
    result = !report.complete ? 'lease_lost' : report.dry_run ? 'dry_run' : 'ok';
    if (report.complete) deps.metrics.gcLastPass.set(deps.now() / 1000);
    return report;
  } finally {
    timer({ result });
    await lease.release().catch(() => undefined);
  }
}

async function pass(deps: GcDeps, opts: { dryRun: boolean; signal?: AbortSignal }, keeper: () => Promise<boolean>): Promise<GcReport> {
  const { signal } = opts;
  const started = deps.now();
  await deps.flushLocal(signal);
  const snapshot = await deps.stats.load(signal);
  const candidates: Candidate[] = [];
  let lost = false;
  for await (const item of listAll(deps.store, signal, async () => void (lost ||= !(await keeper())))) {
    candidates.push(candidate(item, snapshot.entries.get(artifactKey(item.ref))));
  }
  const plan = planEviction(candidates, deps.rules, deps.now());
  const done: Victim[] = [];
  if (!opts.dryRun && !lost) {
    for (let i = 0; i < plan.victims.length; i += DELETE_BATCH) {
      if (!(await keeper())) {
        lost = true;
        break;
      }
      const batch = plan.victims.slice(i, i + DELETE_BATCH);
      await deps.store.delete(batch.map((v) => v.candidate), signal);
      for (const v of batch) {
        deps.forget(v.candidate.ref);
        deps.metrics.evictions.inc({ reason: v.reason });
        done.push(v);
      }
    }
  }
  // Sweeping and settling the statistics are the holder's too: check the lease is still ours.
  if (!lost && !(await keeper())) lost = true;
  const swept = lost ? NOTHING_SWEPT : await sweep(deps, opts);
  if (!opts.dryRun && !lost) await deps.stats.settle(snapshot, done.map((v) => v.candidate.id), signal);
  setStoreGauges(deps, candidates, new Set(done.map((v) => v.candidate.id)));
  // A dry run reports what it would have deleted and kept.
  const counted = opts.dryRun ? plan.victims : done;
  const kept = candidates.length - counted.length;
  return {
    deleted: counted.length,
    freed_bytes: counted.reduce((sum, v) => sum + v.candidate.size, 0),
    kept,
    kept_bytes: candidates.reduce((sum, c) => sum + c.size, 0) - counted.reduce((sum, v) => sum + v.candidate.size, 0),
    duration_ms: deps.now() - started,
    dry_run: opts.dryRun,
    complete: !lost,
    swept,
    ...(opts.dryRun ? { items: plan.victims.slice(0, MAX_LISTED).map(describe) } : {}),
  };
}

async function sweep(deps: GcDeps, opts: { dryRun: boolean; signal?: AbortSignal }): Promise<SweepReport> {
  if (!deps.store.sweeper) return NOTHING_SWEPT;
  const swept = await deps.store.sweeper.sweep({ olderThan: deps.now() - deps.abandonedAfterMs, dryRun: opts.dryRun }, opts.signal);
  if (!opts.dryRun) {
    deps.metrics.evictions.inc({ reason: 'abandoned_upload' }, swept.uploads);
    deps.metrics.evictions.inc({ reason: 'orphan' }, swept.orphans);
    deps.metrics.evictions.inc({ reason: 'temporary' }, swept.temporary);
  }
  return swept;
}

/** Renews the lease once a third of its TTL has passed; false once it is lost. */
function leaseKeeper(lease: LeaseHandle, deps: GcDeps): () => Promise<boolean> {
  let renewedAt = deps.now();
  let held = true;
  return async () => {
    if (!held) return false;
    if (deps.now() - renewedAt < deps.leaseTtlMs / 3) return true;
    held = await lease.renew();
    renewedAt = deps.now();
    return held;
  };
}

function candidate(item: ListedArtifact, access: { count: number; last: number } | undefined): Candidate {
  return {
    id: artifactKey(item.ref),
    ref: item.ref,
    size: item.size,
    createdAt: item.createdAt,
    count: access?.count ?? 0,
    lastAccess: Math.max(access?.last ?? 0, item.createdAt),
  };
}

function setStoreGauges(deps: GcDeps, all: readonly Candidate[], gone: ReadonlySet<string>): void {
  // Every key space gets its gauges, an empty one included (its zero replaces an old figure).
  const totals = new Map<KeySpace, { bytes: number; objects: number }>(KEY_SPACES.map((space) => [space, { bytes: 0, objects: 0 }]));
  for (const c of all) {
    if (gone.has(c.id)) continue;
    const t = totals.get(spaceOf(c.ref));
    if (!t) continue;
    t.bytes += c.size;
    t.objects++;
  }
  for (const [space, t] of totals) {
    deps.metrics.storeBytes.set({ space }, t.bytes);
    deps.metrics.storeObjects.set({ space }, t.objects);
  }
}

function describe(v: Victim): GcItem {
  const { ref } = v.candidate;
  return { space: ref.space ?? 'artifacts', namespace: ref.namespace, hash: ref.hash, size: v.candidate.size, reason: v.reason };
}
