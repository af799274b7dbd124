import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { uniqueRequest } from '../fixtures/builds/requests.js';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { call, pollUntilFinal } from '../helpers/builds-client.js';
import { compileSources } from '../helpers/builds-compile.js';
import { redisTestUrl, startBuildGateway, uniquePrefix, workerProcessEnv, type BuildGateway } from '../helpers/builds-gateway.js';
import { s3TestEnv, uniqueBucket } from '../helpers/gateway.js';
import { postJson, putBytes } from '../helpers/http.js';
import { dashboardTargets, labelValuesQuery, substitute, type DashboardVariable } from './dashboards.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import { promtool } from './promtool.js';
import { NEVER_FIRES, alertNames, e2eRules } from './rules.js';

/*
 * Debian's Prometheus scrapes a real gateway (Redis-backed, no worker of its own) and a real
 * `velocity-worker` process, both behind VC_METRICS_TOKEN, every second, and evaluates alerts.yml
 * (every `for:` shortened to 0s) every second. Traffic: uploads, hits, misses, skipped uploads,
 * builds that succeed and fail, a slow store and a store outage (a TCP proxy in front of the
 * suite's RGW), then the worker is killed, builds pile up, and the gateway is stopped. Every
 * dashboard expression must return data and every alert must fire; a control expression and a
 * control alert that cannot succeed must be reported by the same checks.
 */
const TOKEN = `e2e-${randomBytes(12).toString('hex')}`;
const METRICS_TOKEN = `metrics-${randomBytes(16).toString('hex')}`;
const PROMETHEUS_CONFIG = 'deploy/prometheus/prometheus.yml';
// Fails any request whose JSON mentions `e2e-fail`; otherwise a build of about 2 s.
const BUILD_COMMAND = `req=$(cat); case "$req" in *e2e-fail*) echo "failing on purpose" >&2; exit 1;; esac; sleep 2; printf velocity-e2e > "$VELOCITY_OUTPUT"`;
const NO_DATA_CONTROL = 'sum(rate(vc_e2e_no_such_metric_total[5m]))';
// The hit ratio as the dashboard had it before: 0/0 while idle.
const NAN_CONTROL = 'sum(rate(vc_cache_hits_total[5m])) / (sum(rate(vc_cache_hits_total[5m])) + sum(rate(vc_cache_misses_total[5m])))';

let proxy: FaultProxy;
let gw: BuildGateway | undefined;
let worker: ChildProcess | undefined;
let workerUrl: string;
let prom: PrometheusServer;
let exprs: string[];
let variables: DashboardVariable[];
const bucket = uniqueBucket();
const prefix = uniquePrefix();
const seenFiring = new Map<string, Record<string, string>>();

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const got = await probe();
      if (got !== undefined) return got;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Dashboard expressions (and any others) whose instant query returns nothing. */
async function withoutData(list: readonly string[]): Promise<string[]> {
  const results = await Promise.all(list.map(async (e) => ((await prom.query(e)).length === 0 ? e : undefined)));
  return results.filter((e): e is string => e !== undefined);
}

async function withNaN(list: readonly string[]): Promise<string[]> {
  const results = await Promise.all(list.map(async (e) => ((await prom.query(e)).some((s) => s.value[1] === 'NaN') ? e : undefined)));
  return results.filter((e): e is string => e !== undefined);
}

/** Of `names`, those never seen firing since the test began (alerts are polled and remembered). */
async function neverFired(names: readonly string[]): Promise<string[]> {
  for (const a of await prom.alerts()) if (a.state === 'firing' && a.labels.alertname) seenFiring.set(a.labels.alertname, a.labels);
  return names.filter((n) => !seenFiring.has(n));
}

async function get(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, text: await res.text() };
}

function startWorker(dist: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(dist, 'bin', 'velocity-worker.js')], {
    env: {
      ...workerProcessEnv({ bucket, prefix }),
      VC_HOST: '127.0.0.1',
      VC_METRICS_TOKEN: METRICS_TOKEN,
      VC_BUILD_COMMAND: BUILD_COMMAND,
      VC_BUILD_INITIAL_DELAY: '50',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`velocity-worker did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`velocity-worker exited ${code}: ${stderr}`)));
    child.stdout?.on('data', (c: Buffer) => {
      buffer += c.toString();
      for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        // The worker logs the port it took (VC_WORKER_PORT=0: any free port).
        let entry: { msg?: string; port?: number } = {};
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue; // Not a log line of ours.
        }
        if (entry.msg === 'velocity-worker taking builds' && entry.port) {
          clearTimeout(timer);
          resolve({ child, url: `http://127.0.0.1:${entry.port}` });
        }
      }
    });
  });
}

/** The compose scrape config's jobs, kept by name, pointed at this test's processes. */
async function prometheusConfig(targets: Record<string, string>): Promise<string> {
  const real = parse(await readFile(PROMETHEUS_CONFIG, 'utf8')) as { scrape_configs: { job_name: string }[] };
  const jobs = real.scrape_configs.map((j) => j.job_name);
  expect(jobs.sort()).toEqual(Object.keys(targets).sort());
  return stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: ['alerts.yml'],
    scrape_configs: jobs.map((job_name) => ({
      job_name,
      authorization: { credentials_file: 'metrics-token' },
      static_configs: [{ targets: [new URL(targets[job_name]!).host] }],
    })),
  });
}

beforeAll(async () => {
  const [dist, p, dashboards] = await Promise.all([compileSources(), startFaultProxy(s3TestEnv().endpoint), dashboardTargets()]);
  proxy = p;
  variables = dashboards.variables;
  exprs = dashboards.targets.map((t) => substitute(t.expr, variables));
  gw = await startBuildGateway({
    bucket,
    token: TOKEN,
    inProcessWorker: false,
    builds: { redisUrl: redisTestUrl(), redisPrefix: prefix, command: BUILD_COMMAND },
    config: {
      metrics: { token: METRICS_TOKEN },
      storage: { driver: 's3', s3: { endpoint: proxy.url, bucket, forcePathStyle: true, createBucket: true, integrity: 'md5', timeout: 2 } },
    },
  });
  const started = await startWorker(dist);
  worker = started.child;
  workerUrl = started.url;
  prom = await startPrometheus(await prometheusConfig({ 'velocity-gateway': gw.url, 'velocity-worker': workerUrl }), {
    'alerts.yml': await e2eRules(),
    'metrics-token': METRICS_TOKEN,
  });
}, 60_000);

afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await gw?.close();
  await prom?.stop();
  await proxy?.close();
});

describe('observability against a real Prometheus', () => {
  it('both programs serve /metrics only with the metrics token, and promtool finds nothing to fix', async () => {
    for (const base of [gw!.url, workerUrl]) {
      expect((await get(`${base}/metrics`)).status).toBe(401);
      expect((await get(`${base}/metrics`, `${METRICS_TOKEN}x`)).status).toBe(401);
      const ok = await get(`${base}/metrics`, METRICS_TOKEN);
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/^vc_version_info\{program="velocity-(gateway|worker)",version="[^"]+",node_version="[^"]+"\} 1$/m);
      expect(await promtool(['check', 'metrics'], ok.text)).toEqual({ code: 0, output: '' });
    }
    expect((await get(`${workerUrl}/readyz`)).status).toBe(200);
  });

  it('idle: both targets up, no alert fires, no dashboard expression is NaN', async () => {
    await until(
      'both targets to be scraped',
      async () => {
        const targets = await prom.targets();
        return targets.length === 2 && targets.every((t) => t.health === 'up') ? true : undefined;
      },
      15_000,
    );
    // A few rule evaluations after the first good scrapes.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await prom.alerts()).toEqual([]);
    // The check itself can fail: the old hit ratio is NaN while idle, and is the only one reported.
    expect(await withNaN([...exprs, NAN_CONTROL])).toEqual([NAN_CONTROL]);
    // Each dashboard variable lists what it should: both jobs, both instances.
    for (const v of variables.filter((x) => x.type === 'query')) {
      const q = labelValuesQuery(v.query ?? '', variables);
      expect(q).toBeDefined();
      expect((await prom.labelValues(q!.label, q!.match)).length).toBe(2);
    }
  });

  it('under traffic, every dashboard expression returns data', async () => {
    const url = gw!.url;
    const negotiate = (body: Record<string, unknown>) => postJson(`${url}/v1/negotiate`, body, TOKEN);

    // Uploads, then hits, skipped uploads and misses.
    const stored = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const a = artifact();
        const hash = uniqueHash();
        const up = await negotiate({ hash, action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 });
        expect(up.body.status).toBe('upload_needed');
        expect((await putBytes(up.body.url as string, a.body, up.body.headers as Record<string, string>)).status).toBe(200);
        return { hash, a };
      }),
    );
    for (const { hash, a } of stored) {
      expect((await negotiate({ hash, action: 'download' })).body.status).toBe('found');
      expect((await negotiate({ hash, action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 })).body.status).toBe('skipped');
    }
    for (let i = 0; i < 6; i++) expect((await negotiate({ hash: uniqueHash(), action: 'download' })).body.status).toBe('missing');

    // One build of ~2 s that succeeds, three that fail.
    const submitted = await Promise.all(
      ['e2e-ok', 'e2e-fail-1', 'e2e-fail-2', 'e2e-fail-3'].map(async (tag) => {
        const r = await call('POST', `${url}/v1/builds`, TOKEN, uniqueRequest(`${tag}-${prefix}`));
        expect(r.status).toBe(202);
        return String(r.body.id);
      }),
    );
    const finals = await Promise.all(submitted.map((id) => pollUntilFinal(url, id, TOKEN, 30_000)));
    expect(finals.map((f) => f.body.status)).toEqual(['done', 'failed', 'failed', 'failed']);

    // A slow store: every negotiation that asks it takes over 250 ms (the p99 SLO).
    proxy.set({ kind: 'slow', delayMs: 400 });
    const slow = await Promise.all(Array.from({ length: 20 }, () => negotiate({ hash: uniqueHash(), action: 'download' })));
    expect(slow.map((r) => r.body.status)).toEqual(Array(20).fill('missing'));

    // A store outage: 503, never a miss.
    proxy.set({ kind: 'down' });
    for (let round = 0; round < 4; round++) {
      const down = await Promise.all(Array.from({ length: 10 }, () => negotiate({ hash: uniqueHash(), action: 'download' })));
      expect(down.map((r) => r.status)).toEqual(Array(10).fill(503));
    }
    proxy.set({ kind: 'pass' });

    await until('every dashboard expression to return data', async () => ((await withoutData(exprs)).length === 0 ? true : undefined), 20_000).catch(
      async (err: unknown) => {
        throw new Error(`${String(err)}\nwithout data:\n${(await withoutData(exprs)).join('\n')}`);
      },
    );
    // The check itself can fail: an expression that matches nothing is reported, and only it.
    expect(await withoutData([...exprs, NO_DATA_CONTROL])).toEqual([NO_DATA_CONTROL]);
    expect(await withNaN(exprs)).toEqual([]);
    // Build durations of ~2 s land in buckets that tell them apart (p50 between 1 and 5 s).
    const p50 = await prom.query('histogram_quantile(0.5, sum by (le) (rate(vc_build_duration_seconds_bucket[5m])))');
    expect(Number(p50[0]?.value[1])).toBeGreaterThan(1);
    expect(Number(p50[0]?.value[1])).toBeLessThan(5);
  });

  it('every alert in alerts.yml fires when its condition is produced', async () => {
    const names = await alertNames();
    expect(names).toHaveLength(7);
    const beforeDown = names.filter((n) => n !== 'VelocityGatewayDown');

    // The worker dies; builds then pile up in the queue with nobody to take them.
    worker!.kill('SIGKILL');
    await Promise.all(
      Array.from({ length: 55 }, async (_, i) => {
        const r = await call('POST', `${gw!.url}/v1/builds`, TOKEN, uniqueRequest(`backlog-${i}-${prefix}`));
        expect(r.status).toBe(202);
      }),
    );
    // Everything but the gateway's own death, while the gateway still reports.
    await until('the alerts produced so far to fire', async () => ((await neverFired(beforeDown)).length === 0 ? true : undefined), 25_000).catch(
      async (err: unknown) => {
        throw new Error(`${String(err)}; never fired: ${(await neverFired(beforeDown)).join(', ')}; active: ${JSON.stringify(await prom.alerts())}`);
      },
    );

    await gw!.close();
    gw = undefined;
    await until('VelocityGatewayDown', async () => ((await neverFired(['VelocityGatewayDown'])).length === 0 ? true : undefined), 15_000);
    // From `up == 0` of this very target, not from `absent()`.
    expect(seenFiring.get('VelocityGatewayDown')?.instance).toBeDefined();
    expect(seenFiring.get('VelocityWorkerDown')?.instance).toBe(new URL(workerUrl).host);

    // The check itself can fail: the control alert never fires, and is the only one reported.
    expect(await neverFired([...names, NEVER_FIRES])).toEqual([NEVER_FIRES]);
  });
});
