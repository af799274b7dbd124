import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { createMetrics } from '../../../src/metrics/create-metrics.js';
import { BUILD_RESULTS, NEGOTIATION_STATUSES, STORAGE_ERROR_OPERATIONS, storageOperationOf } from '../../../src/metrics/label-sets.js';
import { packageVersion } from '../../../src/metrics/package-version.js';
import { scrapeAuth } from '../../../src/metrics/scrape-auth.js';

/** `name{labels} value` lines of an exposition, by series. */
function samples(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)] as const),
  );
}

function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const));
}

describe('metrics', () => {
  it('exports the documented names on its own registry, not the global one', async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.cacheHits.inc({ protocol: 'velocity', namespace_kind: 'default' });
    const text = await a.registry.metrics();
    for (const name of ['vc_cache_hits_total', 'vc_cache_misses_total', 'vc_negotiation_latency_seconds', 'vc_uploads_skipped_total', 'vc_storage_errors_total', 'vc_builds_total', 'vc_build_duration_seconds', 'vc_build_queue_depth', 'vc_build_waiters', 'vc_version_info']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('vc_cache_hits_total{protocol="velocity",namespace_kind="default"} 1');
    expect(await b.registry.metrics()).toContain('vc_cache_hits_total{protocol="velocity",namespace_kind="default"} 0');
  });

  it('starts every bounded label set at zero, so the first failure is visible to increase()', async () => {
    const s = samples(await createMetrics({ processMetrics: false }).registry.metrics());
    for (const result of BUILD_RESULTS) expect(s.get(`vc_builds_total{result="${result}"}`)).toBe('0');
    for (const operation of STORAGE_ERROR_OPERATIONS) expect(s.get(`vc_storage_errors_total{operation="${operation}"}`)).toBe('0');
    for (const [action, statuses] of Object.entries(NEGOTIATION_STATUSES)) {
      for (const status of statuses) expect(s.get(`vc_negotiation_latency_seconds_count{action="${action}",status="${status}"}`)).toBe('0');
    }
    expect(s.get('vc_uploads_skipped_total')).toBe('0');
  });

  it('initialises exactly the build results the worker counts (src/builds/worker.ts)', async () => {
    // The worker's Outcome union is private to it; its source is the list to keep in step with.
    const source = await readFile('src/builds/worker.ts', 'utf8');
    const union = /type Outcome = ([^;]+);/.exec(source)?.[1];
    expect(union).toBeDefined();
    const counted = [...union!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]).sort();
    expect(counted).toEqual([...BUILD_RESULTS].sort());
  });

  it('says which program and version run', async () => {
    const s = samples(await createMetrics({ processMetrics: false, program: 'velocity-worker', version: '9.8.7' }).registry.metrics());
    expect(s.get(`vc_version_info{program="velocity-worker",version="9.8.7",node_version="${process.versions.node}"}`)).toBe('1');
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    expect(packageVersion()).toBe(pkg.version);
    const gateway = samples(await createMetrics({ processMetrics: false }).registry.metrics());
    expect(gateway.get(`vc_version_info{program="velocity-gateway",version="${pkg.version}",node_version="${process.versions.node}"}`)).toBe('1');
  });

  it('the worker exports build and process metrics only, none of the gateway series', async () => {
    const worker = types(await createMetrics({ program: 'velocity-worker' }).registry.metrics());
    expect([...worker.keys()].filter((n) => !/^vc_(process|nodejs)_/.test(n)).sort()).toEqual(['vc_build_duration_seconds', 'vc_builds_total', 'vc_version_info']);
    const gateway = types(await createMetrics().registry.metrics());
    for (const name of worker.keys()) expect(gateway.has(name)).toBe(true);
  });

  it('no gauge or histogram ends in _total (Prometheus reserves it for counters)', async () => {
    const t = types(await createMetrics().registry.metrics());
    expect(t.size).toBeGreaterThan(20);
    const wrong = [...t].filter(([name, type]) => name.endsWith('_total') && type !== 'counter');
    expect(wrong).toEqual([]);
    // The renamed process gauges are still there.
    for (const name of ['vc_nodejs_active_handles_all', 'vc_nodejs_active_requests_all', 'vc_nodejs_active_resources_all']) expect(t.get(name)).toBe('gauge');
  });

  it('build duration buckets tell 2 s builds from 4 s ones', async () => {
    const m = createMetrics({ processMetrics: false });
    m.buildDuration.observe(1.6);
    m.buildDuration.observe(3.8);
    const s = samples(await m.registry.metrics());
    expect(s.get('vc_build_duration_seconds_bucket{le="2"}')).toBe('1');
    expect(s.get('vc_build_duration_seconds_bucket{le="5"}')).toBe('2');
    expect(s.get('vc_build_duration_seconds_bucket{le="1800"}')).toBe('2');
  });

  it('the Grafana dashboard only queries metrics that exist', async () => {
    const dashboard = await readFile('deploy/grafana/dashboards/velocity.json', 'utf8');
    const text = await createMetrics().registry.metrics();
    const queried = new Set([...dashboard.matchAll(/\b(vc_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, '')));
    expect(queried.size).toBeGreaterThan(8);
    for (const name of queried) expect(text).toContain(`# TYPE ${name} `);
  });
});

describe('the metrics token (VC_METRICS_TOKEN)', () => {
  const token = 'metrics-token-0123456789';

  it('is open when no token is configured', () => {
    const open = scrapeAuth(undefined);
    expect(open.required).toBe(false);
    expect(open.allows(undefined)).toBe(true);
  });

  it('admits only `Bearer <token>`', () => {
    const auth = scrapeAuth(token);
    expect(auth.required).toBe(true);
    expect(auth.allows(`Bearer ${token}`)).toBe(true);
    expect(auth.allows(`bearer ${token}`)).toBe(true);
    for (const wrong of [undefined, '', 'Bearer', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${token}`, token, `Bearer ${token} extra`]) {
      expect(auth.allows(wrong)).toBe(false);
    }
  });
});

describe('storageOperationOf', () => {
  it.each<[string, string, string]>([
    ['POST', '/v1/negotiate', 'negotiate'],
    ['POST', '/v1/uploads/complete', 'upload'],
    ['PUT', '/v1/local/:space/:namespace/:hash', 'upload'],
    ['GET', '/v1/local/:space/:namespace/:hash', 'download'],
    ['GET', '/v8/artifacts/:hash', 'download'],
    ['PUT', '/v8/artifacts/:hash', 'upload'],
    ['POST', '/v8/artifacts', 'download'],
    ['GET', '/v1/cache/:hash', 'download'],
    ['PUT', '/ns/:namespace/v1/cache/:hash', 'upload'],
    ['HEAD', '/ns/:namespace/bazel/:kind/:hash', 'download'],
    ['PUT', '/http/*key', 'upload'],
    ['GET', '/v1/builds/:id', 'builds'],
    ['POST', '/v1/admin/gc', 'admin'],
    ['GET', '/v1/cachex', 'other'],
    ['GET', 'unmatched', 'other'],
  ])('%s %s is %s', (method, route, operation) => {
    expect(storageOperationOf(method, route)).toBe(operation);
  });
});
