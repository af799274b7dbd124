import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { BuildsRuntime } from '../../src/builds/create-builds.js';
import { buildsExtension } from '../../src/gateway/build-extension.js';
import { startGateway, type RunningGateway } from '../../src/gateway/start-gateway.js';
import { s3TestEnv, testConfig } from './gateway.js';

export interface BuildGateway {
  readonly url: string;
  readonly token: string;
  readonly gateway: RunningGateway;
  readonly runtime: BuildsRuntime;
  close(): Promise<void>;
}

export function redisTestUrl(): string {
  const url = process.env.VC_TEST_REDIS_URL;
  if (!url) throw new Error('VC_TEST_REDIS_URL is not set: the jest globalSetup starts redis-server');
  return url;
}

/** A Redis key prefix of its own, so test files never see each other's builds. */
export function uniquePrefix(): string {
  return `vt-${randomBytes(4).toString('hex')}`;
}

/**
 * A real gateway with builds wired in, on the suite's Ceph RGW (bucket shared when given) and,
 * when `builds.redisUrl` is set, the suite's Redis.
 */
export async function startBuildGateway(opts: {
  bucket: string;
  builds: Record<string, unknown>;
  token?: string;
  tokens?: string[];
  inProcessWorker?: boolean;
  config?: Record<string, unknown>;
}): Promise<BuildGateway> {
  const token = opts.token ?? `test-${randomBytes(12).toString('hex')}`;
  const config = testConfig({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    storage: {
      driver: 's3',
      s3: { endpoint: s3TestEnv().endpoint, bucket: opts.bucket, forcePathStyle: true, createBucket: true, integrity: 'md5', timeout: 5 },
    },
    auth: { tokens: opts.tokens ?? [token] },
    builds: { initialDelay: 50, maxDelay: 1000, ...opts.builds },
    ...opts.config,
  });
  const logger = pino({ level: process.env.VC_TEST_LOG ?? 'silent' });
  let runtime: BuildsRuntime | undefined;
  const gateway = await startGateway({
    config,
    logger,
    extend: buildsExtension({
      config,
      logger,
      ...(opts.inProcessWorker === undefined ? {} : { inProcessWorker: opts.inProcessWorker }),
      onRuntime: (r) => (runtime = r),
    }),
  });
  if (!runtime) throw new Error('builds runtime not created');
  return { url: gateway.url, token, gateway, runtime, close: () => gateway.close(1000) };
}

/**
 * The environment of a `velocity-worker` process on the suite's RGW bucket and Redis (key prefix
 * of the test's own), logging at `logLevel`: each test adds its builder and limits.
 */
export function workerProcessEnv(opts: { bucket: string; prefix: string; logLevel?: string }): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
    AWS_REGION: process.env.AWS_REGION,
    VC_LOG_LEVEL: opts.logLevel ?? 'info',
    VC_STORAGE_DRIVER: 's3',
    VC_S3_ENDPOINT: s3TestEnv().endpoint,
    VC_S3_BUCKET: opts.bucket,
    VC_S3_FORCE_PATH_STYLE: 'true',
    VC_S3_INTEGRITY: 'md5',
    VC_REDIS_URL: redisTestUrl(),
    VC_REDIS_PREFIX: opts.prefix,
    // Any free port for the worker's /healthz, /readyz, /metrics: 9091 may be taken on a shared machine.
    VC_WORKER_PORT: '0',
  };
}
