import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './dockerfile-check.ts';
import { policyProblems } from './kube-policy.ts';
import { readManifests, validateManifests } from './kube-validate.ts';

const K8S = join(REPO, 'deploy/kubernetes');
const read = (p: string): string => readFileSync(join(K8S, p), 'utf8');
const RENDERED = readManifests(read('velocity.yaml'));
const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

describe('Kubernetes manifests', () => {
  it('the rendered base is valid against the Kubernetes schemas, unknown fields included', async () => {
    expect(RENDERED.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'NetworkPolicy', 'PodDisruptionBudget', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount'].sort(),
    );
    expect(await validateManifests(RENDERED)).toEqual([]);
  });

  it('runs under Pod Security "restricted" with probes, requests and limits on both Deployments', () => {
    expect(policyProblems(RENDERED)).toEqual([]);
  });

  it('the monitoring component is valid and its PrometheusRule is deploy/prometheus/alerts.yml', async () => {
    const monitoring = [...readManifests(read('components/monitoring/servicemonitor.yaml')), ...readManifests(read('components/monitoring/prometheusrule.yaml'))];
    expect(await validateManifests(monitoring)).toEqual([]);
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/render-kubernetes.mjs'), '--check'], { encoding: 'utf8', env: { ...process.env, PATH: HAS_KUBECTL ? process.env.PATH : '' } });
    if (HAS_KUBECTL) expect(r.stdout).toBe('');
    else expect(r.stdout).not.toMatch(/prometheusrule/);
  });

  // kubectl (with kustomize) renders the overlays; it is not a Debian package, so machines without
  // it validate the committed rendering only (the tests above).
  (HAS_KUBECTL ? it : it.skip)('every overlay renders to valid, restricted manifests (kubectl kustomize)', async () => {
    for (const dir of ['base', 'overlays/example']) {
      const objects = readManifests(execFileSync('kubectl', ['kustomize', join(K8S, dir)], { encoding: 'utf8' }));
      expect(await validateManifests(objects)).toEqual([]);
      expect(policyProblems(objects)).toEqual([]);
    }
  });

  describe('the checks fail on broken input', () => {
    it('the validator rejects an unknown field and a wrong type', async () => {
      const broken = structuredClone(RENDERED);
      const gateway = broken.find((o) => o.kind === 'Deployment') as unknown as { spec: { replicas: unknown; template: { spec: { containers: Record<string, unknown>[] } } } };
      gateway.spec.template.spec.containers[0]!.livenesProbe = { httpGet: { path: '/healthz', port: 'http' } };
      gateway.spec.replicas = 'two';
      const problems = (await validateManifests(broken)).join('\n');
      expect(problems).toMatch(/containers\[0\]\.livenesProbe: unknown field \(V1Container\)/);
      expect(problems).toMatch(/replicas.*must be integer/);
    });

    it('the validator rejects an unknown field deep in a probe and in metadata', async () => {
      const broken = structuredClone(RENDERED);
      const svc = broken.find((o) => o.kind === 'Service')!;
      (svc.metadata as Record<string, unknown>).label = { a: 'b' };
      expect((await validateManifests(broken)).join('\n')).toMatch(/metadata\.label: unknown field \(V1ObjectMeta\)/);
    });

    it('the policy rejects the manifest from before issue 10', () => {
      const problems = policyProblems(readManifests(readFileSync(join(import.meta.dirname, 'fixtures/kubernetes.before-issue-10.yaml'), 'utf8')));
      expect(problems).toEqual(
        expect.arrayContaining([
          'velocity-gateway: no seccompProfile RuntimeDefault',
          'velocity-gateway/gateway: capabilities do not drop ALL',
          'velocity-gateway/gateway: readiness gives up within 10 s of a store blip',
          'velocity-worker/worker: no readinessProbe',
          'velocity-worker/worker: no memory limit',
          'no HorizontalPodAutoscaler',
          'no NetworkPolicy',
        ]),
      );
    });
  });
});
