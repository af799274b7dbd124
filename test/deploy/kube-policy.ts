import type { KubeObject } from './kube-validate.ts';

type Probe = { httpGet?: { path?: string; port?: string | number }; periodSeconds?: number; failureThreshold?: number };
type Container = {
  name: string;
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { mountPath: string }[];
};
type PodSpec = {
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type?: string } };
  containers: Container[];
  topologySpreadConstraints?: unknown[];
};

/** Pod Security "restricted" and what issue 10 asks of each Deployment; `[]` when it holds. */
export function policyProblems(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  for (const d of deployments) {
    const name = d.metadata?.name ?? '?';
    const pod = (d as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
    if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${name}: runAsNonRoot is not true`);
    if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${name}: no seccompProfile RuntimeDefault`);
    if (!pod.topologySpreadConstraints?.length) problems.push(`${name}: no topology spread`);
    for (const c of pod.containers) {
      const where = `${name}/${c.name}`;
      const sc = c.securityContext;
      if (sc?.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
      if (!sc?.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
      if (sc?.readOnlyRootFilesystem !== true) problems.push(`${where}: root filesystem is writable`);
      if (!c.volumeMounts?.some((m) => m.mountPath === '/tmp')) problems.push(`${where}: no writable /tmp`);
      for (const kind of ['requests', 'limits'] as const) {
        for (const r of ['cpu', 'memory']) if (!c.resources?.[kind]?.[r]) problems.push(`${where}: no ${r} ${kind.slice(0, -1)}`);
      }
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
        if (!c[probe]?.httpGet) problems.push(`${where}: no ${probe}`);
      }
      const r = c.readinessProbe;
      // /readyz asks the shared store: one short blip must not empty every Service at once.
      if (r && (r.periodSeconds ?? 10) * (r.failureThreshold ?? 3) < 30) problems.push(`${where}: readiness gives up within ${(r.periodSeconds ?? 10) * (r.failureThreshold ?? 3)} s of a store blip`);
      if (r?.httpGet?.path !== '/readyz') problems.push(`${where}: readiness does not ask /readyz`);
      if (c.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${where}: liveness does not ask /healthz`);
    }
  }
  const worker = deployments.find((d) => /worker/.test(d.metadata?.name ?? ''));
  const workerPod = (worker as unknown as { spec: { template: { spec: PodSpec } } } | undefined)?.spec.template.spec;
  const workerPort = workerPod?.containers[0]?.ports?.find((p) => p.containerPort === 9091);
  if (!workerPort) problems.push('worker: does not expose VC_WORKER_PORT (9091)');
  else if (workerPod?.containers[0]?.readinessProbe?.httpGet?.port !== workerPort.name && workerPod?.containers[0]?.readinessProbe?.httpGet?.port !== 9091) problems.push('worker: probes do not ask port 9091');
  for (const kind of ['HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceAccount']) {
    if (!objects.some((o) => o.kind === kind)) problems.push(`no ${kind}`);
  }
  return problems;
}
