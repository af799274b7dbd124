import type { Metrics } from './create-metrics.js';

/** The status classes a route's series start with; others (1xx, 3xx) appear when first answered. */
const STATUS_CLASSES = ['2xx', '4xx', '5xx'] as const;

/**
 * Creates `vc_http_requests_total{route, status_class}` at zero for every route pattern, so the
 * first burst of 5xx on a route is a rise from 0 that `rate()` sees, not a new series whose first
 * sample (40 failures, say) counts for nothing: an outage shorter than a scrape interval would
 * otherwise never reach the 5xx-ratio alert.
 */
export function initialiseRouteSeries(metrics: Pick<Metrics, 'httpRequests'>, routes: Iterable<string>): void {
  for (const route of new Set(routes)) {
    for (const status_class of STATUS_CLASSES) metrics.httpRequests.inc({ route, status_class }, 0);
  }
}
