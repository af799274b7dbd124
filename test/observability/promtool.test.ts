import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { createMetrics } from '../../src/metrics/create-metrics.js';
import { dashboardTargets } from './dashboards.js';
import { promtool } from './promtool.js';
import { ALERTS_FILE, alertNames } from './rules.js';

const CONFIG = 'deploy/prometheus/prometheus.yml';
const UNIT_TESTS = 'deploy/prometheus/alerts.test.yml';

interface UnitTests {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vc-promtool-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('promtool', () => {
  it('check config: the compose scrape config and the rules it loads', async () => {
    const r = await promtool(['check', 'config', CONFIG]);
    expect(r.output).toContain('SUCCESS: 1 rule files found');
    expect(r.code).toBe(0);
  });

  it('check rules: alerts.yml', async () => {
    expect(await promtool(['check', 'rules', ALERTS_FILE])).toMatchObject({ code: 0 });
  });

  it('test rules: alerts.test.yml passes, and covers every alert firing and quiet', async () => {
    const r = await promtool(['test', 'rules', UNIT_TESTS]);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
    const doc = parse(await readFile(UNIT_TESTS, 'utf8')) as UnitTests;
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of await alertNames()) {
      expect({ name, fires: cases.some((c) => c.alertname === name && (c.exp_alerts?.length ?? 0) > 0) }).toEqual({ name, fires: true });
      expect({ name, quiet: cases.some((c) => c.alertname === name && (c.exp_alerts?.length ?? 0) === 0) }).toEqual({ name, quiet: true });
    }
  });

  it('test rules fails for each alert whose expression is broken (the unit tests can fail)', async () => {
    const names = await alertNames();
    const rules = parse(await readFile(ALERTS_FILE, 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
    const tests = parse(await readFile(UNIT_TESTS, 'utf8')) as UnitTests;
    for (const name of names) {
      // This alert's expression replaced by one that never returns anything.
      const broken = structuredClone(rules);
      for (const g of broken.groups) for (const rule of g.rules) if (rule.alert === name) rule.expr = 'vector(1) == 0';
      const rulesFile = join(tmp, `${name}.yml`);
      await writeFile(rulesFile, stringify(broken));
      const testsFile = join(tmp, `${name}.test.yml`);
      await writeFile(testsFile, stringify({ ...tests, rule_files: [resolve(rulesFile)] }));
      const r = await promtool(['test', 'rules', testsFile]);
      expect({ name, code: r.code }).toEqual({ name, code: 1 });
      expect(r.output).toContain(`alertname: ${name}`);
    }
  });

  it('check metrics: both programs clean; a gauge ending in _total is caught', async () => {
    for (const program of ['velocity-gateway', 'velocity-worker'] as const) {
      const text = await createMetrics({ program }).registry.metrics();
      expect({ program, ...(await promtool(['check', 'metrics'], text)) }).toEqual({ program, code: 0, output: '' });
    }
    const bad = '# HELP vc_things_total x\n# TYPE vc_things_total gauge\nvc_things_total 1\n';
    const r = await promtool(['check', 'metrics'], bad);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('non-counter metrics should not have "_total" suffix');
  });
});

describe('the Grafana dashboards', () => {
  it('choose their data source, job and instance through variables', async () => {
    const { targets, variables } = await dashboardTargets();
    expect(targets.length).toBeGreaterThan(15);
    expect(variables.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['job', 'query'],
      ['instance', 'query'],
    ]);
    for (const t of targets) {
      expect({ panel: t.panel, datasource: t.datasourceUid }).toEqual({ panel: t.panel, datasource: '${datasource}' });
      // Every selector of every expression is narrowed by job and instance.
      const selectors = [...t.expr.matchAll(/\bvc_[a-z0-9_]+(\{[^}]*\})?|\bup(\{[^}]*\})?/g)];
      for (const s of selectors) expect({ panel: t.panel, selector: s[0] }).toEqual({ panel: t.panel, selector: expect.stringMatching(/job=~"\$job",instance=~"\$instance"/) });
    }
  });
});
