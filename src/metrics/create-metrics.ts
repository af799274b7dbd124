import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BUILD_RESULTS, CACHE_PROTOCOLS, NAMESPACE_KINDS, NEGOTIATION_STATUSES, STORAGE_ERROR_OPERATIONS, STREAM_DIRECTIONS } from './label-sets.js';
import { packageVersion } from './package-version.js';
import { registerProcessMetrics } from './process-metrics.js';

/** Every metric the gateway and worker export, on an injected registry (never the global one). */
export interface Metrics {
  readonly registry: Registry;
  readonly cacheHits: Counter<'protocol' | 'namespace_kind'>;
  readonly cacheMisses: Counter<'protocol' | 'namespace_kind'>;
  readonly negotiationLatency: Histogram<'action' | 'status'>;
  readonly uploadsSkipped: Counter;
  readonly storageErrors: Counter<'operation'>;
  readonly bytesStreamed: Counter<'direction'>;
  readonly httpRequests: Counter<'route' | 'status_class'>;
  readonly buildsTotal: Counter<'result'>;
  readonly buildDuration: Histogram;
  readonly buildQueueDepth: Gauge;
  readonly buildWaiters: Gauge;
}

export type Program = 'velocity-gateway' | 'velocity-worker';

export interface CreateMetricsOptions {
  /** Collect process metrics (CPU, memory, event loop lag). */
  readonly processMetrics?: boolean;
  /**
   * Which program exports them (`vc_version_info{program}`). The worker's registry holds only the
   * build and process metrics: gateway series it could never move would sit at zero beside the
   * gateways' real ones.
   */
  readonly program?: Program;
  /** Reported by `vc_version_info{version}`; this package's version by default. */
  readonly version?: string;
}

/**
 * Build durations from a couple of seconds (a command builder, a Velox cache hit) to the 15 min
 * default build timeout (VC_BUILD_TIMEOUT), fine enough at the short end that p50 of 2 s builds
 * is not reported as "somewhere under 5 s".
 */
const BUILD_DURATION_BUCKETS = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800];

export function createMetrics(opts: CreateMetricsOptions = {}): Metrics {
  const program = opts.program ?? 'velocity-gateway';
  const registry = new Registry();
  if (opts.processMetrics ?? true) registerProcessMetrics(registry, 'vc_');
  const registers = [registry];
  // Gateway metrics still exist in the worker (the types stay whole) but are not exported there.
  const gatewayRegisters = program === 'velocity-gateway' ? registers : [];

  new Gauge({
    name: 'vc_version_info',
    help: 'Always 1; the labels say which program, version and Node.js runs',
    labelNames: ['program', 'version', 'node_version'],
    registers,
  }).set({ program, version: opts.version ?? packageVersion(), node_version: process.versions.node }, 1);

  const metrics: Metrics = {
    registry,
    // Label values are bounded: `namespace_kind` is `default` or `named`, never a user's string.
    cacheHits: new Counter({
      name: 'vc_cache_hits_total',
      help: 'Lookups that found the artifact: download negotiations (protocol velocity) and client-protocol reads',
      labelNames: ['protocol', 'namespace_kind'],
      registers: gatewayRegisters,
    }),
    cacheMisses: new Counter({
      name: 'vc_cache_misses_total',
      help: 'Lookups that did not find the artifact: download negotiations (protocol velocity) and client-protocol reads',
      labelNames: ['protocol', 'namespace_kind'],
      registers: gatewayRegisters,
    }),
    negotiationLatency: new Histogram({
      name: 'vc_negotiation_latency_seconds',
      help: 'Time to answer one negotiation (per item in a batch)',
      labelNames: ['action', 'status'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: gatewayRegisters,
    }),
    uploadsSkipped: new Counter({
      name: 'vc_uploads_skipped_total',
      help: 'Upload negotiations answered `skipped` because the key already exists',
      registers: gatewayRegisters,
    }),
    storageErrors: new Counter({
      name: 'vc_storage_errors_total',
      help: 'Store calls that failed without a clear answer (answered 503, never a miss)',
      labelNames: ['operation'],
      registers: gatewayRegisters,
    }),
    bytesStreamed: new Counter({
      name: 'vc_bytes_streamed_total',
      help: 'Artifact bytes streamed through the gateway (local driver)',
      labelNames: ['direction'],
      registers: gatewayRegisters,
    }),
    httpRequests: new Counter({
      name: 'vc_http_requests_total',
      help: 'HTTP requests by route and status class',
      labelNames: ['route', 'status_class'],
      registers: gatewayRegisters,
    }),
    buildsTotal: new Counter({
      name: 'vc_builds_total',
      help: 'Build attempts by result',
      labelNames: ['result'],
      registers,
    }),
    buildDuration: new Histogram({
      name: 'vc_build_duration_seconds',
      help: 'Duration of successful builds, upload included',
      buckets: BUILD_DURATION_BUCKETS,
      registers,
    }),
    buildQueueDepth: new Gauge({ name: 'vc_build_queue_depth', help: 'Builds waiting or running', registers: gatewayRegisters }),
    buildWaiters: new Gauge({ name: 'vc_build_waiters', help: 'Clients waiting for a build', registers: gatewayRegisters }),
  };
  initialiseLabelSets(metrics);
  return metrics;
}

/** Every bounded series starts at zero, so rates, ratios and `increase()` see its first event. */
function initialiseLabelSets(m: Metrics): void {
  for (const protocol of CACHE_PROTOCOLS) {
    for (const kind of NAMESPACE_KINDS) {
      m.cacheHits.inc({ protocol, namespace_kind: kind }, 0);
      m.cacheMisses.inc({ protocol, namespace_kind: kind }, 0);
    }
  }
  for (const [action, statuses] of Object.entries(NEGOTIATION_STATUSES)) {
    for (const status of statuses) m.negotiationLatency.zero({ action, status });
  }
  for (const operation of STORAGE_ERROR_OPERATIONS) m.storageErrors.inc({ operation }, 0);
  for (const direction of STREAM_DIRECTIONS) m.bytesStreamed.inc({ direction }, 0);
  for (const result of BUILD_RESULTS) m.buildsTotal.inc({ result }, 0);
  m.uploadsSkipped.inc(0);
}
