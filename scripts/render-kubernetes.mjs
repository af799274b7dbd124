#!/usr/bin/env node
// Renders what deploy/kubernetes commits from its sources (test/deploy/kubernetes.test.ts fails
// when a committed file differs from what this prints):
// - components/monitoring/prometheusrule.yaml: deploy/prometheus/alerts.yml as a PrometheusRule
//   (the one rule file, for the Operator; kustomize cannot read a file outside its folder);
// - velocity.yaml: the base rendered by `kubectl kustomize`, for `kubectl apply -f`.
//   node scripts/render-kubernetes.mjs [--check]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const K8S = join(REPO, 'deploy/kubernetes');

export function renderPrometheusRule(alertsText) {
  const alerts = parse(alertsText);
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'velocity', labels: { 'app.kubernetes.io/name': 'velocity' } },
    spec: { groups: alerts.groups },
  };
  return `# Generated from deploy/prometheus/alerts.yml by scripts/render-kubernetes.mjs: edit that file.\n${stringify(rule, { lineWidth: 0 })}`;
}

export function renderBase() {
  const out = execFileSync('kubectl', ['kustomize', join(K8S, 'base')], { encoding: 'utf8' });
  return `# Generated from deploy/kubernetes/base by scripts/render-kubernetes.mjs (kubectl kustomize):
# edit the base, not this file. Apply with: kubectl -n velocity apply -f deploy/kubernetes/velocity.yaml
# after creating the Secret \`velocity\` (README "Kubernetes").
${out}`;
}

const outputs = [
  [join(K8S, 'components/monitoring/prometheusrule.yaml'), () => renderPrometheusRule(readFileSync(join(REPO, 'deploy/prometheus/alerts.yml'), 'utf8'))],
  [join(K8S, 'velocity.yaml'), renderBase],
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, render] of outputs) {
    const text = render();
    if (check) {
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current !== text) {
        stale++;
        process.stdout.write(`stale: ${file}\n`);
      }
    } else writeFileSync(file, text);
  }
  if (stale > 0) process.exitCode = 1;
}
