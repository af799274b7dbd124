import { Counter, type Registry } from 'prom-client';
import { CLIENT_PROTOCOLS, type ClientProtocol } from '../gateway/protocols/protocol-deps.js';
import type { Metrics } from './create-metrics.js';
import { namespaceKind } from './label-sets.js';

/** Which way artifact bytes went, and whether the gateway carried them or the store did (presigned). */
export const PROTOCOL_DIRECTIONS = ['down', 'up'] as const;
export const PROTOCOL_MODES = ['streamed', 'redirected'] as const;

/** Hits, misses and bytes of the client protocols (Turborepo, Nx, Bazel, plain HTTP). */
export interface ProtocolMetrics {
  /** Counted in `vc_cache_hits_total{protocol}`, beside the native negotiation's (`protocol="velocity"`). */
  hit(protocol: ClientProtocol, namespace: string): void;
  miss(protocol: ClientProtocol, namespace: string): void;
  bytes(protocol: ClientProtocol, direction: (typeof PROTOCOL_DIRECTIONS)[number], mode: (typeof PROTOCOL_MODES)[number], n: number): void;
  /**
   * A store outage a protocol answered in the client's own words instead of a 503 (Nx fails its
   * run on any status but a few): counted in `vc_storage_errors_total` like every other outage, so
   * the store-errors alert sees it although no 5xx went out.
   */
  storageError(operation: 'upload' | 'download'): void;
}

/**
 * Hits and misses go to the gateway's own `vc_cache_hits_total` / `vc_cache_misses_total`
 * (labelled by protocol; their series start at zero in create-metrics.ts), so one query covers
 * every client. Bytes get their own counter, made once per registry (several apps may share one
 * in tests), every label set from zero so `rate()` sees the first event. `redirected` bytes are
 * the sizes of artifacts a client fetched straight from the store after a 302: the gateway never
 * carried them, which is what the bytes-streamed-vs-redirected ratio shows.
 */
export function protocolMetrics(metrics: Pick<Metrics, 'registry' | 'storageErrors' | 'cacheHits' | 'cacheMisses'>): ProtocolMetrics {
  const registry = metrics.registry;
  const existing = cache.get(registry);
  if (existing) return existing;
  const bytes = new Counter({
    name: 'vc_protocol_bytes_total',
    help: 'Client-protocol artifact bytes, down (hits) or up (stores), streamed through the gateway or redirected to the store',
    labelNames: ['protocol', 'direction', 'mode'],
    registers: [registry],
  });
  for (const protocol of CLIENT_PROTOCOLS) {
    for (const direction of PROTOCOL_DIRECTIONS) for (const mode of PROTOCOL_MODES) bytes.inc({ protocol, direction, mode }, 0);
  }
  const m: ProtocolMetrics = {
    hit: (protocol, namespace) => metrics.cacheHits.inc({ protocol, namespace_kind: namespaceKind(namespace) }),
    miss: (protocol, namespace) => metrics.cacheMisses.inc({ protocol, namespace_kind: namespaceKind(namespace) }),
    bytes: (protocol, direction, mode, n) => {
      if (n > 0) bytes.inc({ protocol, direction, mode }, n);
    },
    storageError: (operation) => metrics.storageErrors.inc({ operation }),
  };
  cache.set(registry, m);
  return m;
}

const cache = new WeakMap<Registry, ProtocolMetrics>();
