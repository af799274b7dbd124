import { Counter, type Registry } from 'prom-client';
import { CLIENT_PROTOCOLS, type ClientProtocol } from '../gateway/protocols/protocol-deps.js';
import type { Metrics } from './create-metrics.js';

/** Which way artifact bytes went, and whether the gateway carried them or the store did (presigned). */
export const PROTOCOL_DIRECTIONS = ['down', 'up'] as const;
export const PROTOCOL_MODES = ['streamed', 'redirected'] as const;

/** Hits, misses and bytes of the client protocols (Turborepo, Nx, Bazel, plain HTTP). */
export interface ProtocolMetrics {
  hit(protocol: ClientProtocol): void;
  miss(protocol: ClientProtocol): void;
  bytes(protocol: ClientProtocol, direction: (typeof PROTOCOL_DIRECTIONS)[number], mode: (typeof PROTOCOL_MODES)[number], n: number): void;
  /**
   * A store outage a protocol answered in the client's own words instead of a 503 (Nx fails its
   * run on any status but a few): counted in `vc_storage_errors_total` like every other outage, so
   * the store-errors alert sees it although no 5xx went out.
   */
  storageError(operation: 'upload' | 'download'): void;
}

/**
 * On the gateway's injected registry, once per registry (several apps may share one in tests).
 * `vc_cache_hits_total` and `vc_cache_misses_total` already exist with the negotiation's own
 * label (`namespace_kind`), and a registry holds one metric per name, so the protocols count into
 * their own series; every label set starts at zero so `rate()` sees the first event.
 * `redirected` bytes are the sizes of artifacts a client fetched straight from the store after a
 * 302: the gateway never carried them, which is what the bytes-streamed-vs-redirected ratio shows.
 */
export function protocolMetrics(metrics: Pick<Metrics, 'registry' | 'storageErrors'>): ProtocolMetrics {
  const registry = metrics.registry;
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const hits = new Counter({
    name: 'vc_protocol_hits_total',
    help: 'Client-protocol requests (Turborepo, Nx, Bazel, HTTP) that found the artifact',
    labelNames: ['protocol'],
    registers,
  });
  const misses = new Counter({
    name: 'vc_protocol_misses_total',
    help: 'Client-protocol requests that did not find the artifact',
    labelNames: ['protocol'],
    registers,
  });
  const bytes = new Counter({
    name: 'vc_protocol_bytes_total',
    help: 'Client-protocol artifact bytes, down (hits) or up (stores), streamed through the gateway or redirected to the store',
    labelNames: ['protocol', 'direction', 'mode'],
    registers,
  });
  for (const protocol of CLIENT_PROTOCOLS) {
    hits.inc({ protocol }, 0);
    misses.inc({ protocol }, 0);
    for (const direction of PROTOCOL_DIRECTIONS) for (const mode of PROTOCOL_MODES) bytes.inc({ protocol, direction, mode }, 0);
  }
  const m: ProtocolMetrics = {
    hit: (protocol) => hits.inc({ protocol }),
    miss: (protocol) => misses.inc({ protocol }),
    bytes: (protocol, direction, mode, n) => {
      if (n > 0) bytes.inc({ protocol, direction, mode }, n);
    },
    storageError: (operation) => metrics.storageErrors.inc({ operation }),
  };
  cache.set(registry, m);
  return m;
}

const cache = new WeakMap<Registry, ProtocolMetrics>();
