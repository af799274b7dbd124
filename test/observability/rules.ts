import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';

interface RuleFile {
  groups: { name: string; interval?: string; rules: { alert?: string; record?: string; expr: string; for?: string }[] }[];
}

export const ALERTS_FILE = 'deploy/prometheus/alerts.yml';

/** The alert names of alerts.yml, in file order. */
export async function alertNames(file = ALERTS_FILE): Promise<string[]> {
  const doc = parse(await readFile(file, 'utf8')) as RuleFile;
  return doc.groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
}

/** An alert that can never fire: the e2e test must report it, or its alert check proves nothing. */
export const NEVER_FIRES = 'VelocityE2eControlNeverFires';

/**
 * alerts.yml as the e2e test runs it: generated from the real file (never a second copy kept by
 * hand), every `for:` set to 0s so a condition held for a few scrapes fires, plus a control alert
 * that cannot fire. The expressions themselves are unchanged.
 */
export async function e2eRules(file = ALERTS_FILE): Promise<string> {
  const doc = parse(await readFile(file, 'utf8')) as RuleFile;
  for (const group of doc.groups) for (const rule of group.rules) if (rule.alert) rule.for = '0s';
  doc.groups.push({
    name: 'velocity-e2e-controls',
    rules: [{ alert: NEVER_FIRES, expr: 'vc_version_info > 1' }],
  });
  return stringify(doc);
}
