import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the gateway and worker export, on an injected registry (never the global one). */
export interface Metrics {
  readonly registry: Registry;
  readonly cacheHits: Counter<'namespace_kind'>;
  readonly cacheMisses: Counter<'namespace_kind'>;
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

export interface CreateMetricsOptions {
  /** Collect process metrics (CPU, memory, event loop lag). */
  readonly processMetrics?: boolean;
}

export function createMetrics(opts: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'vc_' });
  const registers = [registry];
  const metrics: Metrics = {
    registry,
    // Label values are bounded: `namespace_kind` is `default` or `named`, never a user's string.
    cacheHits: new Counter({
      name: 'vc_cache_hits_total',
      help: 'Download negotiations that found the artifact',
      labelNames: ['namespace_kind'],
      registers,
    }),
    cacheMisses: new Counter({
      name: 'vc_cache_misses_total',
      help: 'Download negotiations that did not find the artifact',
      labelNames: ['namespace_kind'],
      registers,
    }),
    negotiationLatency: new Histogram({
      name: 'vc_negotiation_latency_seconds',
      help: 'Time to answer one negotiation (per item in a batch)',
      labelNames: ['action', 'status'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    uploadsSkipped: new Counter({
      name: 'vc_uploads_skipped_total',
      help: 'Upload negotiations answered `skipped` because the key already exists',
      registers,
    }),
    storageErrors: new Counter({
      name: 'vc_storage_errors_total',
      help: 'Store calls that failed without a clear answer (answered 503, never a miss)',
      labelNames: ['operation'],
      registers,
    }),
    bytesStreamed: new Counter({
      name: 'vc_bytes_streamed_total',
      help: 'Artifact bytes streamed through the gateway (local driver)',
      labelNames: ['direction'],
      registers,
    }),
    httpRequests: new Counter({
      name: 'vc_http_requests_total',
      help: 'HTTP requests by route and status class',
      labelNames: ['route', 'status_class'],
      registers,
    }),
    buildsTotal: new Counter({
      name: 'vc_builds_total',
      help: 'Finished builds by result',
      labelNames: ['result'],
      registers,
    }),
    buildDuration: new Histogram({
      name: 'vc_build_duration_seconds',
      help: 'Build duration',
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200],
      registers,
    }),
    buildQueueDepth: new Gauge({ name: 'vc_build_queue_depth', help: 'Builds waiting or running', registers }),
    buildWaiters: new Gauge({ name: 'vc_build_waiters', help: 'Clients waiting for a build', registers }),
  };
  // Series with bounded labels start at zero, so rates and ratios exist before the first event.
  for (const kind of ['default', 'named']) {
    metrics.cacheHits.inc({ namespace_kind: kind }, 0);
    metrics.cacheMisses.inc({ namespace_kind: kind }, 0);
  }
  metrics.storageErrors.inc({ operation: 'negotiate' }, 0);
  return metrics;
}
