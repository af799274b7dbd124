import { isIP } from 'node:net';
import { z } from 'zod';
import { BUILD_ENV_PATHS, buildsConfigSchema } from '../builds/config.js';
import { LIFECYCLE_ENV_PATHS, lifecycleConfigSchema } from '../lifecycle/lifecycle-config.js';
import { STORAGE_ENV_PATHS, storageConfigSchema } from '../storage/storage-config.js';
import { byteSize, duration, flag, httpUrl, int, list } from './zod-fields.js';

const url = httpUrl;

export const configSchema = z.strictObject({
  port: int(0, 65535).default(8080),
  host: z.string().min(1).default('0.0.0.0'),
  /** Base URL clients use to reach this gateway; used for the local driver's signed URLs. */
  publicUrl: url.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seconds a presigned URL stays valid. */
  presignTtl: int(60, 7 * 24 * 3600).default(900),
  /** Seconds SIGTERM waits for in-flight requests before closing them. */
  shutdownGrace: int(0, 600).default(25),
  storage: storageConfigSchema,
  auth: z
    .strictObject({
      tokens: list.default([]),
      jwtSecret: z.string().min(32, 'must be at least 32 characters').optional(),
      jwksUrl: url.optional(),
      jwtIssuer: z.string().min(1).optional(),
      jwtAudience: z.string().min(1).optional(),
      /** Longest a JWT may be valid (`exp - iat`, or `exp - now` without `iat`), in seconds. */
      jwtMaxLifetime: duration(60, 365 * 86_400).default(24 * 3600),
      /** Clock difference tolerated between the token issuer and this gateway, in seconds. */
      jwtClockSkew: duration(0, 600).default(30),
    })
    .prefault({}),
  /** Limits on what one client connection may hold (see docs/security.md, slow clients). */
  http: z
    .strictObject({
      /** Seconds to receive a request's headers. */
      headersTimeout: duration(0.1, 600).default(10),
      /** Seconds to receive a whole request (headers and body), streamed uploads excepted. */
      bodyTimeout: duration(0.1, 3600).default(30),
      /** Hard ceiling on receiving any request, streamed uploads included (seconds; 0 disables). */
      requestTimeout: duration(0, 7 * 86_400).default(3600),
      /** Streamed uploads (local driver) must move at least `uploadMinRate` bytes/s over every window of this length. */
      uploadRateWindow: duration(0.1, 600).default(30),
      uploadMinRate: byteSize(1, 1024 ** 3).default(16 * 1024),
      /** Open connections per process; more are refused at once. */
      maxConnections: int(1, 1_000_000).default(4096),
      /**
       * Proxies in front of the gateway (addresses or CIDR ranges) whose `X-Forwarded-*` headers
       * are believed; a client's own are replaced (proxy mode) and ignored (Koa's `ctx.ip`).
       */
      trustedProxies: list.pipe(z.array(z.string().refine(isAddressOrRange, 'must be an IP address or a CIDR range (10.0.0.0/8)'))).default([]),
    })
    .prefault({})
    .check((ctx) => {
      const { headersTimeout, requestTimeout } = ctx.value;
      if (requestTimeout > 0 && headersTimeout > requestTimeout) {
        ctx.issues.push({
          code: 'custom',
          input: headersTimeout,
          path: ['headersTimeout'],
          message: 'must not exceed http.requestTimeout',
        });
      }
    }),
  cache: z
    .strictObject({
      /** Entries in the in-memory L1 of keys known to exist. */
      knownKeys: int(0, 10_000_000).default(100_000),
      /** Download misses remembered so the upload that follows skips a second store HEAD (0 disables). */
      recentMisses: int(0, 10_000_000).default(100_000),
      /** How long a miss spares the upload negotiation's store HEAD (seconds; 0 disables). */
      recentMissTtl: int(0, 86_400).default(900),
      /** Uploads at or above this size use multipart (bytes). */
      multipartThreshold: byteSize(5 * 1024 * 1024, 5 * 1024 ** 4).default(64 * 1024 * 1024),
      /** Part size recommended to clients for multipart uploads (bytes). */
      multipartPartSize: byteSize(5 * 1024 * 1024, 5 * 1024 ** 3).default(16 * 1024 * 1024),
      /** Largest artifact accepted (bytes). */
      maxArtifactSize: byteSize(1, 5 * 1024 ** 4).default(10 * 1024 ** 3),
      /**
       * Bazel action results are stored only when every CAS blob they name is in the same
       * namespace (src/gateway/protocols/bazel-action-check.ts). Off: stored as sent.
       */
      bazelCheckActionResults: flag.default(true),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      /**
       * Bearer token `/metrics` requires (gateway and worker) when set; compared in constant time.
       * Separate from the client tokens so a scraper never holds cache or build access.
       */
      token: z.string().min(16, 'must be at least 16 characters').optional(),
    })
    .prefault({}),
  builds: buildsConfigSchema,
  lifecycle: lifecycleConfigSchema,
});

function isAddressOrRange(value: string): boolean {
  const [address = '', prefix, rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

export type Config = z.infer<typeof configSchema>;
export type StorageConfig = Config['storage'];
export type S3Config = StorageConfig['s3'];
export type AuthConfig = Config['auth'];
export type HttpConfig = Config['http'];

/**
 * Environment variable -> dot path in the schema. The public names are documented in the README;
 * keep this table and that list in step.
 */
export const ENV_PATHS: Readonly<Record<string, string>> = {
  VC_PORT: 'port',
  VC_HOST: 'host',
  VC_PUBLIC_URL: 'publicUrl',
  VC_LOG_LEVEL: 'logLevel',
  VC_PRESIGN_TTL: 'presignTtl',
  VC_SHUTDOWN_GRACE: 'shutdownGrace',
  ...STORAGE_ENV_PATHS,
  VC_AUTH_TOKEN: 'auth.tokens',
  VC_JWT_SECRET: 'auth.jwtSecret',
  VC_JWKS_URL: 'auth.jwksUrl',
  VC_JWT_ISSUER: 'auth.jwtIssuer',
  VC_JWT_AUDIENCE: 'auth.jwtAudience',
  VC_JWT_MAX_LIFETIME: 'auth.jwtMaxLifetime',
  VC_JWT_CLOCK_SKEW: 'auth.jwtClockSkew',
  VC_HEADERS_TIMEOUT: 'http.headersTimeout',
  VC_BODY_TIMEOUT: 'http.bodyTimeout',
  VC_REQUEST_TIMEOUT: 'http.requestTimeout',
  VC_UPLOAD_RATE_WINDOW: 'http.uploadRateWindow',
  VC_UPLOAD_MIN_RATE: 'http.uploadMinRate',
  VC_MAX_CONNECTIONS: 'http.maxConnections',
  VC_TRUSTED_PROXIES: 'http.trustedProxies',
  VC_KNOWN_KEYS: 'cache.knownKeys',
  VC_RECENT_MISSES: 'cache.recentMisses',
  VC_RECENT_MISS_TTL: 'cache.recentMissTtl',
  VC_MULTIPART_THRESHOLD: 'cache.multipartThreshold',
  VC_MULTIPART_PART_SIZE: 'cache.multipartPartSize',
  VC_MAX_ARTIFACT_SIZE: 'cache.maxArtifactSize',
  VC_BAZEL_CHECK_ACTION_RESULTS: 'cache.bazelCheckActionResults',
  VC_METRICS_TOKEN: 'metrics.token',
  ...BUILD_ENV_PATHS,
  ...LIFECYCLE_ENV_PATHS,
};
