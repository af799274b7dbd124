import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface DashboardTarget {
  readonly dashboard: string;
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  readonly datasourceUid: string | undefined;
}

export interface DashboardVariable {
  readonly dashboard: string;
  readonly name: string;
  readonly type: string;
  readonly query: string | undefined;
  readonly allValue: string | undefined;
}

interface RawPanel {
  title?: string;
  datasource?: { uid?: string };
  targets?: { refId?: string; expr?: string; datasource?: { uid?: string } }[];
  panels?: RawPanel[];
}

interface RawDashboard {
  title?: string;
  panels?: RawPanel[];
  templating?: { list?: { name: string; type: string; query?: string | { query?: string }; allValue?: string }[] };
}

export const DASHBOARD_DIR = 'deploy/grafana/dashboards';

/** Every Prometheus expression of every dashboard under deploy/grafana/dashboards, nested rows included. */
export async function dashboardTargets(dir = DASHBOARD_DIR): Promise<{ targets: DashboardTarget[]; variables: DashboardVariable[] }> {
  const targets: DashboardTarget[] = [];
  const variables: DashboardVariable[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    const d = JSON.parse(await readFile(join(dir, file), 'utf8')) as RawDashboard;
    const name = d.title ?? file;
    const walk = (panels: RawPanel[] | undefined): void => {
      for (const p of panels ?? []) {
        for (const t of p.targets ?? []) {
          if (t.expr === undefined) continue;
          targets.push({ dashboard: name, panel: p.title ?? '?', refId: t.refId ?? '?', expr: t.expr, datasourceUid: t.datasource?.uid ?? p.datasource?.uid });
        }
        walk(p.panels);
      }
    };
    walk(d.panels);
    for (const v of d.templating?.list ?? []) {
      variables.push({ dashboard: name, name: v.name, type: v.type, query: typeof v.query === 'string' ? v.query : v.query?.query, allValue: v.allValue });
    }
  }
  return { targets, variables };
}

/**
 * What Grafana puts in place of its variables, for a dashboard showing every job and instance:
 * `All` of a query variable is its allValue; the built-in intervals get values a 15 s scrape
 * interval would give them over a few hours.
 */
export function substitute(expr: string, variables: readonly DashboardVariable[]): string {
  const values = new Map<string, string>([
    ['__rate_interval', '5m'],
    ['__interval', '1m'],
    ['__range', '1h'],
  ]);
  for (const v of variables) if (v.type === 'query') values.set(v.name, v.allValue ?? '.*');
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = values.get(name);
    if (value === undefined) throw new Error(`dashboard expression uses an unknown variable ${whole}: ${expr}`);
    return value;
  });
  return out;
}

/** `label_values(metric{...}, label)`: the metric selector and the label, with variables substituted. */
export function labelValuesQuery(query: string, variables: readonly DashboardVariable[]): { match: string; label: string } | undefined {
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(query.trim());
  return m ? { match: substitute(m[1]!, variables), label: m[2]! } : undefined;
}
