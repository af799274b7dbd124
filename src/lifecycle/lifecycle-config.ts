import { z } from 'zod';
import { byteSize, duration, int } from '../config/zod-fields.js';
import { NAMESPACE_PATTERN } from '../storage/object-keys.js';

const YEAR = 365 * 86_400;

/** Limits that hold for the whole store, or for one namespace (YAML `lifecycle.eviction.namespaces`). */
const limitsShape = {
  /** Total bytes kept. */
  maxBytes: byteSize(1, Number.MAX_SAFE_INTEGER).optional(),
  /** Artifacts kept. */
  maxEntries: int(1, Number.MAX_SAFE_INTEGER).optional(),
  /** Seconds (or `30d`) after its creation an artifact is deleted, however much it is used. */
  maxAge: duration(1, 100 * YEAR).optional(),
};

export const evictionLimitsSchema = z.strictObject(limitsShape);
export type EvictionLimits = z.infer<typeof evictionLimitsSchema>;

export const EVICTION_POLICIES = ['lru', 'lfu', 'fifo'] as const;
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

/**
 * Store lifecycle: access statistics, eviction, sweeping, the L1's staleness bound. Composed into
 * the main schema under `lifecycle`. Every interval, TTL and age accepts values down to 1 second.
 */
export const lifecycleConfigSchema = z
  .strictObject({
    /** Seconds between two flushes of this replica's access counts (Redis, else the store). */
    accessFlushInterval: duration(1, 86_400).default(60),
    /** Longest a replica keeps answering `found` from its L1 without asking the store again. */
    knownKeysTtl: duration(1, 86_400).default(60),
    /**
     * Multipart uploads and temporary files untouched this long are abandoned and swept. Never less
     * than the presign TTL in effect (a part URL must not outlive it): the larger of the two is used.
     */
    abandonedAfter: duration(1, 30 * 86_400).default(86_400),
    eviction: z
      .strictObject({
        policy: z.enum(EVICTION_POLICIES).default('lru'),
        ...limitsShape,
        /** Seconds between two passes; 0 disables the scheduled pass (the admin API still runs one). */
        interval: duration(0, 30 * 86_400)
          .refine((v) => v === 0 || v >= 1, 'must be 0 (disabled) or at least 1 second')
          .default(3600),
        /** Seconds the pass's lease lasts unless renewed: how soon another replica takes over a dead one. */
        leaseTtl: duration(1, 3600).default(60),
        /** Limits per namespace (YAML only), on top of the store-wide ones. */
        namespaces: z.record(z.string().regex(NAMESPACE_PATTERN), evictionLimitsSchema).default({}),
      })
      .prefault({}),
  })
  .prefault({});

export type LifecycleConfig = z.infer<typeof lifecycleConfigSchema>;

export const LIFECYCLE_ENV_PATHS: Readonly<Record<string, string>> = {
  VC_ACCESS_FLUSH_INTERVAL: 'lifecycle.accessFlushInterval',
  VC_KNOWN_KEYS_TTL: 'lifecycle.knownKeysTtl',
  VC_UPLOAD_ABANDON_AFTER: 'lifecycle.abandonedAfter',
  VC_EVICTION_POLICY: 'lifecycle.eviction.policy',
  VC_EVICTION_MAX_BYTES: 'lifecycle.eviction.maxBytes',
  VC_EVICTION_MAX_ENTRIES: 'lifecycle.eviction.maxEntries',
  VC_EVICTION_MAX_AGE: 'lifecycle.eviction.maxAge',
  VC_EVICTION_INTERVAL: 'lifecycle.eviction.interval',
  VC_EVICTION_LEASE_TTL: 'lifecycle.eviction.leaseTtl',
};
