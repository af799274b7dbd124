import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { createMetrics } from '../../../src/metrics/create-metrics.js';

describe('metrics', () => {
  it('exports the documented names on its own registry, not the global one', async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.cacheHits.inc({ namespace_kind: 'default' });
    const text = await a.registry.metrics();
    for (const name of ['vc_cache_hits_total', 'vc_cache_misses_total', 'vc_negotiation_latency_seconds', 'vc_uploads_skipped_total', 'vc_storage_errors_total', 'vc_builds_total', 'vc_build_duration_seconds', 'vc_build_queue_depth', 'vc_build_waiters']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('vc_cache_hits_total{namespace_kind="default"} 1');
    expect(await b.registry.metrics()).toContain('vc_cache_hits_total{namespace_kind="default"} 0');
  });

  it('the Grafana dashboard only queries metrics that exist', async () => {
    const dashboard = await readFile('deploy/grafana/dashboards/velocity.json', 'utf8');
    const text = await createMetrics().registry.metrics();
    const queried = new Set([...dashboard.matchAll(/\b(vc_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, '')));
    expect(queried.size).toBeGreaterThan(8);
    for (const name of queried) expect(text).toContain(`# TYPE ${name} `);
  });
});
