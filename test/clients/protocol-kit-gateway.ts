import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { startFaultProxy, type FaultProxy } from '../observability/fault-proxy.js';
import { s3TestEnv, startGateway, uniqueBucket, type TestGateway } from '../helpers/gateway.js';
import { signJwt } from '../helpers/builds-security.js';
import type { KeySpace, ListedArtifact } from '../../src/storage/driver.js';

/**
 * A real gateway for the client-protocol tests: the S3 driver on the suite's Ceph RGW, reached
 * through a fault proxy so a test can take the store away (`proxy.set({kind: 'down'})`) without
 * stopping the RGW other suites share; or the local driver.
 */
export interface ClientGateway {
  readonly url: string;
  /** Static token with every scope and namespace. */
  readonly token: string;
  readonly gw: TestGateway;
  readonly proxy: FaultProxy | undefined;
  /** A JWT with exactly these scopes and namespaces (`*` for all). */
  jwt(scopes: string[], namespaces?: string[] | '*'): Promise<string>;
  /** Published artifacts of a key space (every namespace, or one). */
  stored(space: KeySpace, namespace?: string): Promise<ListedArtifact[]>;
  /** Current value of a counter series (0 when absent). */
  counter(name: string, labels: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export async function startClientGateway(opts: { driver?: 'local' | 's3'; config?: Record<string, unknown> } = {}): Promise<ClientGateway> {
  const driver = opts.driver ?? 's3';
  const jwtSecret = randomBytes(24).toString('hex');
  const bucket = uniqueBucket();
  const proxy = driver === 's3' ? await startFaultProxy(s3TestEnv().endpoint) : undefined;
  const storage = proxy
    ? { storage: { driver: 's3', s3: { endpoint: proxy.url, bucket, forcePathStyle: true, createBucket: true, integrity: 'md5', timeout: 3 } } }
    : {};
  const gw = await startGateway({ driver, bucket, jwtSecret, config: { ...storage, ...opts.config } });
  return {
    url: gw.url,
    token: gw.token,
    gw,
    proxy,
    jwt: (scopes, namespaces = '*') => signJwt(jwtSecret, 'client-test', { scope: scopes.join(' '), namespaces }),
    stored: async (space, namespace) => {
      const items: ListedArtifact[] = [];
      let cursor: string | undefined;
      do {
        const page = await gw.gateway.driver.list({ space, ...(namespace ? { namespace } : {}), ...(cursor ? { cursor } : {}) });
        items.push(...page.items);
        cursor = page.cursor;
      } while (cursor);
      return items;
    },
    counter: (name, labels) => counterValue(gw.gateway.metrics.registry, name, labels),
    close: async () => {
      await gw.close();
      await proxy?.close();
    },
  };
}

export async function counterValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  // The sum over every series the given labels match (a counter may carry labels a test does not name).
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}
