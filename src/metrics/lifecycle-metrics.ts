import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { KEY_SPACES } from '../storage/object-keys.js';

/** Why objects were deleted: eviction limits, an admin purge, or sweeping what writes left behind. */
export const DELETION_REASONS = ['age', 'size', 'count', 'purge', 'abandoned_upload', 'orphan', 'temporary'] as const;
export type DeletionReason = (typeof DELETION_REASONS)[number];

/** The store lifecycle's metrics (eviction passes, store size), on the gateway's injected registry. */
export interface LifecycleMetrics {
  readonly evictions: Counter<'reason'>;
  readonly storeBytes: Gauge<'space'>;
  readonly storeObjects: Gauge<'space'>;
  readonly gcDuration: Histogram<'result'>;
  readonly gcLastPass: Gauge;
}

const GC_RESULTS = ['ok', 'dry_run', 'lease_lost', 'error'];

/**
 * Registered once per registry (several apps may share one in tests): a second call returns the
 * metrics the first registered. Every label set starts at zero, so rates exist before the first event.
 */
export function lifecycleMetrics(registry: Registry): LifecycleMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const m: LifecycleMetrics = {
    evictions: new Counter({
      name: 'vc_evictions_total',
      help: 'Objects deleted by the store lifecycle, by reason (eviction limits, purge, sweeping)',
      labelNames: ['reason'],
      registers,
    }),
    storeBytes: new Gauge({ name: 'vc_store_bytes', help: 'Bytes of published artifacts, as of the last pass or stats call', labelNames: ['space'], registers }),
    storeObjects: new Gauge({ name: 'vc_store_objects', help: 'Published artifacts, as of the last pass or stats call', labelNames: ['space'], registers }),
    gcDuration: new Histogram({
      name: 'vc_gc_duration_seconds',
      help: 'Duration of eviction and sweeping passes run by this replica',
      labelNames: ['result'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
    gcLastPass: new Gauge({
      name: 'vc_gc_last_pass_timestamp_seconds',
      help: 'Unix time the last completed pass of this replica ended (0: none yet)',
      registers,
    }),
  };
  for (const reason of DELETION_REASONS) m.evictions.inc({ reason }, 0);
  for (const space of KEY_SPACES) {
    m.storeBytes.set({ space }, 0);
    m.storeObjects.set({ space }, 0);
  }
  for (const result of GC_RESULTS) m.gcDuration.zero({ result });
  cache.set(registry, m);
  return m;
}

const cache = new WeakMap<Registry, LifecycleMetrics>();
