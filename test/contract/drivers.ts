import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Facet, StorageDriver } from '../../src/storage/driver.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';
import { s3TestEnv, testConfig, uniqueBucket } from '../helpers/gateway.js';

export interface StoreUnderTest {
  readonly store: StorageDriver;
  /** Config (YAML shape) for a gateway on this same store, for suites that need one. */
  readonly storage: Record<string, unknown>;
  /** Another driver instance on the same store: a second replica. */
  another(now?: () => number): StorageDriver;
  cleanup(): Promise<void>;
}

export { FACETS, type Facet } from '../../src/storage/driver.js';

export interface DriverUnderTest {
  readonly name: string;
  /** The facets the driver declares: their suites run, and the store must have exactly these. */
  readonly facets: readonly Facet[];
  /** `baseUrl` is where a self-served store's URLs point (a gateway serving them). */
  create(opts?: { now?: () => number; baseUrl?: () => string }): Promise<StoreUnderTest>;
}

/**
 * Every driver the contract suites run against. A new driver (GCS, Azure Blob) joins every suite
 * of every facet it has by adding one entry here.
 */
export const DRIVERS: readonly DriverUnderTest[] = [
  {
    name: 'local',
    facets: ['presign', 'multipart', 'selfServed', 'records', 'sweeper', 'replace'],
    async create(opts = {}) {
      const root = await mkdtemp(join(tmpdir(), 'vc-contract-'));
      const make = (now = opts.now): StorageDriver =>
        new LocalDriver({ root, baseUrl: opts.baseUrl ?? (() => 'http://127.0.0.1:1'), signingSecret: 'contract-local-signing-secret-0123456789', ...(now ? { now } : {}) });
      const store = make();
      await store.init();
      return {
        store,
        storage: { driver: 'local', local: { root, signingSecret: 'contract-local-signing-secret-0123456789' } },
        another: make,
        cleanup: async () => {
          await store.close();
          await rm(root, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 's3',
    facets: ['presign', 'multipart', 'records', 'sweeper', 'replace'],
    async create(opts = {}) {
      const storage = {
        driver: 's3',
        s3: { endpoint: s3TestEnv().endpoint, bucket: uniqueBucket(), forcePathStyle: true, createBucket: true, integrity: 'md5', timeout: 3 },
      };
      const config = testConfig({ storage }).storage.s3;
      const make = (now = opts.now): StorageDriver => new S3Driver(config, now ? { now } : {});
      const store = make();
      await store.init();
      return { store, storage, another: make, cleanup: () => store.close() };
    },
  },
];
