import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's default gauges that end in `_total`, which Prometheus reserves for counters
 * (`promtool check metrics` rejects them). Each is kept under a `_all` name: it is the count over
 * every type, the same number as `sum without (type) (<name without _total>)`.
 */
const TOTAL_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * How often the event loop's delay is sampled (ms). prom-client's default, 10 ms, wakes an idle
 * gateway 100 times a second: about 12 ms of CPU per second doing nothing (measured), which is
 * most of what the process costs between requests. Ten samples a second still see any lag.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Process and Node.js metrics (CPU, memory, event loop lag, handles) under `prefix`. */
export function registerProcessMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  for (const base of TOTAL_GAUGES) {
    const name = prefix + base;
    const original = registry.getSingleMetric(name);
    if (!original) continue; // Not collected on this Node version.
    registry.removeSingleMetric(name);
    new Gauge({
      name: name.replace(/_total$/, '_all'),
      help: `Number of active libuv ${base.split('_')[2] ?? ''} of every type together`,
      registers: [registry],
      // The original's collect() reads the live count; it is asked at each scrape, as before.
      async collect() {
        const { values } = await original.get();
        this.set(values[0]?.value ?? 0);
      },
    });
  }
}
