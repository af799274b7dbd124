import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArtifactRef, Facet, StorageDriver } from '../../src/storage/driver.js';
import { LocalDriver } from '../../src/storage/local/local-driver.js';
import { artifactKey } from '../../src/storage/object-keys.js';
import { S3Driver, createS3Client } from '../../src/storage/s3/s3-driver.js';
import { s3TestEnv, testConfig, uniqueBucket } from '../helpers/gateway.js';

export interface StoreUnderTest {
  readonly store: StorageDriver;
  /** Config (YAML shape) for a gateway on this same store, for suites that need one. */
  readonly storage: Record<string, unknown>;
  /** Another driver instance on the same store: a second replica. */
  another(now?: () => number): StorageDriver;
  /**
   * What writes to `ref` left in the store besides a published artifact (staging of any kind: the
   * local driver's tmp/ entries, which are not per ref, or S3 blobs and multipart uploads of the ref).
   */
  leftovers(ref: ArtifactRef): Promise<string[]>;
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
        leftovers: async () => (await readdir(join(root, 'tmp'))).map((name) => `tmp/${name}`),
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
        s3: {
          endpoint: s3TestEnv().endpoint,
          bucket: uniqueBucket(),
          forcePathStyle: true,
          createBucket: true,
          integrity: 'md5',
          timeout: 3,
          // The smallest part S3 takes: streamed uploads go in parts from 5 MiB on.
          ingestPartSize: 5 * 1024 * 1024,
        },
      };
      const config = testConfig({ storage }).storage.s3;
      const make = (now = opts.now): StorageDriver => new S3Driver(config, now ? { now } : {});
      const store = make();
      await store.init();
      const raw = createS3Client(config);
      const Bucket = storage.s3.bucket;
      return {
        store,
        storage,
        another: make,
        leftovers: async (ref) => {
          const Prefix = `blobs/${artifactKey(ref)}/`;
          // The blob a published pointer names is the artifact, not a leftover.
          const pointer = await raw.send(new HeadObjectCommand({ Bucket, Key: artifactKey(ref) })).catch(() => undefined);
          const named = pointer?.Metadata?.['upload-id'];
          const objects = await raw.send(new ListObjectsV2Command({ Bucket, Prefix }));
          const uploads = await raw.send(new ListMultipartUploadsCommand({ Bucket, Prefix }));
          return [
            ...(objects.Contents ?? []).map((o) => o.Key ?? '').filter((key) => named === undefined || key !== `${Prefix}${named}`),
            ...(uploads.Uploads ?? []).map((u) => `upload ${u.Key ?? ''}`),
          ];
        },
        cleanup: async () => {
          raw.destroy();
          await store.close();
        },
      };
    },
  },
];
