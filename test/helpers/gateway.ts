import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { configSchema, type Config } from '../../src/config/schema.js';
import { startGateway as start, type RunningGateway, type StartOptions } from '../../src/gateway/start-gateway.js';

export type DriverKind = 'local' | 's3';

export interface TestGatewayOptions {
  readonly driver: DriverKind;
  /** Static full-access token; generated when omitted. */
  readonly token?: string;
  readonly jwtSecret?: string;
  /** Raw config overrides (same shape as the YAML file), merged over the test defaults. */
  readonly config?: Record<string, unknown>;
  /** Reuse a bucket (s3) or folder (local) so several gateways share one store. */
  readonly bucket?: string;
  readonly localRoot?: string;
  readonly now?: () => number;
  readonly extend?: StartOptions['extend'];
  /** Where the gateway logs (silent when omitted). */
  readonly logger?: Logger;
}

export interface TestGateway {
  readonly url: string;
  readonly token: string;
  readonly bucket: string;
  readonly localRoot: string;
  readonly gateway: RunningGateway;
  close(): Promise<void>;
}

export function s3TestEnv(): { endpoint: string } {
  const endpoint = process.env.VC_TEST_S3_ENDPOINT;
  if (!endpoint) throw new Error('VC_TEST_S3_ENDPOINT is not set: the jest globalSetup starts Ceph RGW');
  return { endpoint };
}

export function uniqueBucket(): string {
  return `vt-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Builds a full config the way the gateway would from env/YAML (defaults applied by the schema). */
export function testConfig(raw: Record<string, unknown>): Config {
  return configSchema.parse(raw);
}

/**
 * A real gateway, in-process on a free port: the local driver in a temp folder, or the S3 driver
 * on the suite's Ceph RGW (integrity `md5`: RGW 16 does not check x-amz-checksum-*).
 */
export async function startGateway(opts: TestGatewayOptions): Promise<TestGateway> {
  const token = opts.token ?? `test-${randomBytes(12).toString('hex')}`;
  const bucket = opts.bucket ?? uniqueBucket();
  const localRoot = opts.localRoot ?? (await mkdtemp(join(tmpdir(), 'vc-local-')));
  const storage =
    opts.driver === 's3'
      ? {
          driver: 's3',
          s3: {
            endpoint: s3TestEnv().endpoint,
            bucket,
            forcePathStyle: true,
            createBucket: true,
            integrity: 'md5',
            timeout: 3,
          },
        }
      : { driver: 'local', local: { root: localRoot } };
  const raw: Record<string, unknown> = {
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    storage,
    auth: { tokens: [token], ...(opts.jwtSecret ? { jwtSecret: opts.jwtSecret } : {}) },
    ...opts.config,
  };
  const config = testConfig(raw);
  const gateway = await start({
    config,
    logger: opts.logger ?? pino({ level: 'silent' }),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.extend ? { extend: opts.extend } : {}),
  });
  return { url: gateway.url, token, bucket, localRoot, gateway, close: () => gateway.close(1000) };
}
