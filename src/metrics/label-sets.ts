import { DEFAULT_NAMESPACE } from '../storage/object-keys.js';

/**
 * The bounded label values of Velocity's metrics, in one place. Every series they name is created
 * at zero when the registry is made: a counter's first increment is invisible to `increase()` and
 * `rate()` when its series only appears with the value 1 (Prometheus has no earlier sample to
 * subtract from), so the first failed build or storage error would not alert.
 */

/** Outcomes of one build attempt (src/builds/worker.ts counts them). */
export const BUILD_RESULTS = ['success', 'failure', 'retry', 'cancelled', 'timeout'] as const;

/**
 * What a request that met a storage outage (503 storage_unavailable, 507 storage_full) was doing:
 * counted once per failed request by the gateway's error boundary (request-context.ts), per item
 * in a batch (src/cache/negotiator.ts), and per failed binary upload by the build worker.
 */
export const STORAGE_ERROR_OPERATIONS = ['negotiate', 'upload', 'download', 'builds', 'admin', 'other', 'build_upload'] as const;
export type StorageErrorOperation = (typeof STORAGE_ERROR_OPERATIONS)[number];

/** The operation of a route pattern (`_matchedRoute`): a bounded label, never a path. */
export function storageOperationOf(method: string, route: string): StorageErrorOperation {
  if (route.startsWith('/v1/negotiate')) return 'negotiate';
  if (route.startsWith('/v1/uploads/')) return 'upload';
  if (route.startsWith('/v1/local/')) return method === 'PUT' ? 'upload' : 'download';
  if (route.startsWith('/v1/builds')) return 'builds';
  if (route.startsWith('/v1/admin/')) return 'admin';
  // The client protocols (src/gateway/protocols): their stores are uploads, their reads downloads.
  if (/^(?:\/ns\/:namespace)?\/(?:v8\/artifacts|v1\/cache|bazel|http)(?:\/|$)/.test(route)) {
    return method === 'PUT' ? 'upload' : 'download';
  }
  return 'other';
}

/** Negotiation answers per action; `error` is any exception, a storage outage among them. */
export const NEGOTIATION_STATUSES = {
  download: ['found', 'missing', 'error'],
  upload: ['upload_needed', 'skipped', 'error'],
} as const;

/** `namespace_kind` of the hit and miss counters: never a user's namespace. */
export const NAMESPACE_KINDS = ['default', 'named'] as const;
export type NamespaceKind = (typeof NAMESPACE_KINDS)[number];

/** The namespace the server falls back to is `default`; any other `named`. */
export function namespaceKind(namespace: string): NamespaceKind {
  return namespace === DEFAULT_NAMESPACE ? 'default' : 'named';
}

/**
 * `protocol` of the hit and miss counters: Velocity's own negotiation, then each client protocol
 * (src/gateway/protocols: Turborepo, Nx, Bazel, plain HTTP for ccache and Gradle).
 */
export const CACHE_PROTOCOLS = ['velocity', 'turbo', 'nx', 'bazel', 'http'] as const;
export type CacheProtocol = (typeof CACHE_PROTOCOLS)[number];

export const STREAM_DIRECTIONS = ['in', 'out'] as const;
