import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { connectRedis } from '../builds/redis-connection.js';
import type { Config } from '../config/schema.js';
import { lifecycleMetrics, type LifecycleMetrics } from '../metrics/lifecycle-metrics.js';
import type { Registry } from 'prom-client';
import type { ArtifactRef, StorageDriver } from '../storage/driver.js';
import { KEY_SPACES } from '../storage/object-keys.js';
import { AccessCounter } from './access-counter.js';
import { mergeDelta, type AccessSnapshot, type AccessStats } from './access-stats.js';
import { GcBusyError, runGcPass, type GcReport } from './gc-pass.js';
import { storeUsage, type NamespaceUsage } from './inventory.js';
import type { LeaseProvider } from './lease.js';
import { RedisAccessStats } from './redis-access-stats.js';
import { RedisLeases } from './redis-lease.js';
import { StoreAccessStats } from './store-access-stats.js';
import { StoreLeases } from './store-lease.js';
import { LeaseUnavailableError } from './lifecycle-errors.js';

export interface LifecycleDeps {
  readonly config: Config;
  readonly store: StorageDriver;
  readonly registry: Registry;
  readonly logger: Logger;
  /** This replica's L1: deleted keys are forgotten at once. */
  readonly forget: (ref: ArtifactRef) => void;
  readonly access?: AccessCounter;
  readonly now?: () => number;
}

export interface Lifecycle {
  readonly access: AccessCounter;
  readonly stats: AccessStats;
  readonly leases: LeaseProvider | undefined;
  readonly metrics: LifecycleMetrics;
  /** Sends this replica's pending counts to the shared place now. */
  flush(signal?: AbortSignal): Promise<void>;
  /** One eviction and sweeping pass (GcBusyError when another replica runs one). */
  gc(opts: { dryRun: boolean; signal?: AbortSignal }): Promise<GcReport>;
  usage(signal?: AbortSignal): Promise<NamespaceUsage[]>;
  /** Deletes one artifact now; false when there was none. */
  purge(ref: ArtifactRef, signal?: AbortSignal): Promise<boolean>;
  /** Starts the flush and pass timers. */
  start(): void;
  close(): Promise<void>;
}

/**
 * Wires the store lifecycle of one gateway replica: its access counter and the flush timer,
 * where counts and leases live (Redis when `VC_REDIS_URL` is set, else the store), and the
 * scheduled pass. Nothing here keeps state another replica needs.
 */
export function createLifecycle(deps: LifecycleDeps): Lifecycle {
  const { config, store, logger } = deps;
  const lc = config.lifecycle;
  const now = deps.now ?? Date.now;
  const access = deps.access ?? new AccessCounter(now);
  const metrics = lifecycleMetrics(deps.registry);
  const redisUrl = config.builds.redisUrl;
  // Fail-fast options as the queue's, but commands issued while the connection is still being
  // made wait for it (a pass may start before the first connect completes).
  const redis: Redis | undefined = redisUrl
    ? connectRedis(redisUrl, 'commands', config.builds.redisTimeout * 1000, { enableOfflineQueue: true })
    : undefined;
  const prefix = `${config.builds.redisPrefix}:lifecycle`;
  const stats: AccessStats = redis
    ? new RedisAccessStats(redis, prefix)
    : store.records
      ? new StoreAccessStats(store.records, now)
      : new MemoryAccessStats();
  // A store lease is only exact where the store refuses a second creator.
  const leases: LeaseProvider | undefined = redis
    ? new RedisLeases(redis, prefix, now)
    : store.records && store.capabilities.conditionalWrites
      ? new StoreLeases(store.records, now)
      : undefined;
  if (!leases) logger.warn('eviction disabled: it needs VC_REDIS_URL or a store with conditional writes for its lease');

  const flush = async (signal?: AbortSignal): Promise<void> => {
    const batch = access.take();
    try {
      await stats.flush(batch, signal);
    } catch (err) {
      access.restore(batch);
      throw err;
    }
  };
  const abandonedAfterMs = Math.max(lc.abandonedAfter, config.presignTtl) * 1000;
  const gc = (opts: { dryRun: boolean; signal?: AbortSignal }): Promise<GcReport> => {
    if (!leases) return Promise.reject(new LeaseUnavailableError());
    return runGcPass(
      {
        store,
        stats,
        flushLocal: flush,
        leases,
        rules: { policy: lc.eviction.policy, limits: lc.eviction, namespaces: lc.eviction.namespaces },
        leaseTtlMs: lc.eviction.leaseTtl * 1000,
        abandonedAfterMs,
        metrics,
        forget: deps.forget,
        now,
      },
      opts,
    );
  };

  const timers: NodeJS.Timeout[] = [];
  let running: Promise<unknown> | undefined;
  return {
    access,
    stats,
    leases,
    metrics,
    flush,
    gc,
    usage: async (signal) => {
      const usage = await storeUsage(store, signal);
      for (const space of KEY_SPACES) {
        const mine = usage.filter((u) => u.space === space);
        metrics.storeBytes.set({ space }, mine.reduce((s, u) => s + u.bytes, 0));
        metrics.storeObjects.set({ space }, mine.reduce((s, u) => s + u.objects, 0));
      }
      return usage;
    },
    purge: async (ref, signal) => {
      const handle = await store.head(ref, signal);
      if (!handle) return false;
      await store.delete([handle], signal);
      deps.forget(ref);
      metrics.evictions.inc({ reason: 'purge' });
      return true;
    },
    start() {
      const every = (seconds: number, fn: () => Promise<unknown>): void => {
        const t = setInterval(() => void fn(), seconds * 1000);
        t.unref();
        timers.push(t);
      };
      every(lc.accessFlushInterval, () => flush().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'access statistics flush failed; kept for the next one')));
      if (lc.eviction.interval > 0 && leases) {
        every(lc.eviction.interval, async () => {
          if (running) return;
          running = gc({ dryRun: false })
            .then((r) => logger.info({ deleted: r.deleted, freedBytes: r.freed_bytes, kept: r.kept, durationMs: r.duration_ms, swept: r.swept }, 'eviction pass'))
            .catch((err: unknown) => {
              if (err instanceof GcBusyError) return;
              logger.error({ err: (err as Error).message }, 'eviction pass failed');
            })
            .finally(() => (running = undefined));
          await running;
        });
      }
    },
    async close() {
      for (const t of timers) clearInterval(t);
      await running;
      await flush().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'last access statistics flush failed'));
      redis?.disconnect();
    },
  };
}

/** Neither Redis nor a store that keeps records: counts live in this process only (one replica). */
class MemoryAccessStats implements AccessStats {
  readonly kind = 'store';
  private readonly entries = new Map<string, { count: number; last: number }>();

  flush(batch: ReadonlyMap<string, { count: number; last: number }>): Promise<void> {
    for (const [id, d] of batch) mergeDelta(this.entries, id, d);
    return Promise.resolve();
  }

  load(): Promise<AccessSnapshot> {
    return Promise.resolve({ entries: new Map(this.entries), sources: [] });
  }

  settle(_s: AccessSnapshot, deleted: readonly string[]): Promise<void> {
    for (const id of deleted) this.entries.delete(id);
    return Promise.resolve();
  }
}
