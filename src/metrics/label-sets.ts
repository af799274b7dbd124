/**
 * The bounded label values of Velocity's metrics, in one place. Every series they name is created
 * at zero when the registry is made: a counter's first increment is invisible to `increase()` and
 * `rate()` when its series only appears with the value 1 (Prometheus has no earlier sample to
 * subtract from), so the first failed build or storage error would not alert.
 */

/** Outcomes of one build attempt (src/builds/worker.ts counts them). */
export const BUILD_RESULTS = ['success', 'failure', 'retry', 'cancelled', 'timeout'] as const;

/** Where a storage outage is counted today (src/cache/negotiator.ts). */
export const STORAGE_ERROR_OPERATIONS = ['negotiate'] as const;

/** Negotiation answers per action; `error` is any exception, a storage outage among them. */
export const NEGOTIATION_STATUSES = {
  download: ['found', 'missing', 'error'],
  upload: ['upload_needed', 'skipped', 'error'],
} as const;

/** `namespace_kind` of the hit and miss counters: never a user's namespace. */
export const NAMESPACE_KINDS = ['default', 'named'] as const;

export const STREAM_DIRECTIONS = ['in', 'out'] as const;
