import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { createTokenVerifier, type TokenVerifier } from '../../src/auth/token-verifier.js';
import type { Config } from '../../src/config/schema.js';
import { bazelRouter } from '../../src/gateway/protocols/bazel.js';
import { httpCacheRouter } from '../../src/gateway/protocols/http-cache.js';
import { protocolRouters } from '../../src/gateway/protocols/mount-protocols.js';
import type { ProtocolDeps } from '../../src/gateway/protocols/protocol-deps.js';
import { startGateway, type RunningGateway, type StartOptions } from '../../src/gateway/start-gateway.js';
import { AccessCounter } from '../../src/lifecycle/access-counter.js';
import { protocolMetrics } from '../../src/metrics/protocol-metrics.js';
import { createStorageDriver } from '../../src/storage/create-storage-driver.js';
import type { ArtifactRef, ArtifactStream, StorageDriver } from '../../src/storage/driver.js';
import { s3TestEnv, testConfig, uniqueBucket } from '../helpers/gateway.js';
import { startFaultProxy, type FaultProxy } from '../observability/fault-proxy.js';

/** What the store handed out for reading, as the gateway used it. */
export interface StoreRead {
  readonly ref: ArtifactRef;
  /** Bytes that arrived from the store into the stream so far. */
  pulled: number;
  /** The store stream reached its end. */
  ended: boolean;
  /** The store stream was destroyed or closed (at the end, or cut short). */
  closed: boolean;
}

/** Watches every `openRead` of a driver: how far each store stream was read, and whether it was closed. */
export function watchingReads(driver: StorageDriver): { driver: StorageDriver; reads: StoreRead[] } {
  const reads: StoreRead[] = [];
  const openRead = async (...args: Parameters<StorageDriver['openRead']>): Promise<ArtifactStream> => {
    const stream = await driver.openRead(...args);
    const read: StoreRead = { ref: args[0].ref, pulled: 0, ended: false, closed: false };
    reads.push(read);
    watch(stream.body, read);
    return stream;
  };
  const wrapped = new Proxy(driver, {
    get(target, prop) {
      if (prop === 'openRead') return openRead;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { driver: wrapped, reads };
}

/**
 * Counts the bytes that reach the store stream from the store's socket, without touching the flow
 * (a 'data' listener would start it before the gateway pipes it): `push()` is how a socket's bytes
 * enter a Readable, and it stops being called once the stream's buffer is full and nobody reads.
 */
function watch(body: Readable, read: StoreRead): void {
  const original = body.push.bind(body);
  body.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk !== null && chunk !== undefined) read.pulled += (chunk as Buffer).length;
    return original(chunk, encoding);
  };
  body.once('end', () => (read.ended = true));
  body.once('close', () => (read.closed = true));
}

export interface StreamGateway {
  readonly url: string;
  /** Full access (static token). */
  readonly token: string;
  readonly gateway: RunningGateway;
  /** The store as the gateway sees it (through the fault proxy): list and head here. */
  readonly driver: StorageDriver;
  readonly reads: StoreRead[];
  /** In front of the suite's Ceph RGW: `down` is a store outage for this gateway only. */
  readonly store: FaultProxy;
  /** A JWT with these scopes and namespaces. */
  jwt(scope: string, namespaces?: readonly string[]): Promise<string>;
  close(): Promise<void>;
}

const JWT_SECRET = `stream-${randomBytes(16).toString('hex')}`;

/**
 * A real gateway (S3 driver) on the suite's Ceph RGW, reached through a fault proxy so one test can
 * stop the store for this gateway alone, with every store read watched.
 */
export async function startStreamGateway(config: Record<string, unknown> = {}): Promise<StreamGateway> {
  const store = await startFaultProxy(s3TestEnv().endpoint);
  const token = `test-${randomBytes(12).toString('hex')}`;
  const cfg = testConfig({
    port: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    storage: {
      driver: 's3',
      s3: { endpoint: store.url, bucket: uniqueBucket(), forcePathStyle: true, createBucket: true, integrity: 'md5', timeout: 2 },
    },
    auth: { tokens: [token], jwtSecret: JWT_SECRET },
    ...config,
  });
  const { driver, reads } = watchingReads(createStorageDriver(cfg.storage, { baseUrl: () => '' }));
  const verifier = createTokenVerifier({
    tokens: cfg.auth.tokens,
    secret: cfg.auth.jwtSecret,
    jwksUrl: cfg.auth.jwksUrl,
    issuer: cfg.auth.jwtIssuer,
    audience: cfg.auth.jwtAudience,
    claimRules: { maxLifetimeSeconds: cfg.auth.jwtMaxLifetime, clockSkewSeconds: cfg.auth.jwtClockSkew },
  });
  const gateway = await startGateway({ config: cfg, logger: pino({ level: 'silent' }), driver, verifier, extend: mountUnlessMounted(cfg, verifier) });
  return {
    url: gateway.url,
    token,
    gateway,
    driver,
    reads,
    store,
    jwt: (scope, namespaces = ['*']) =>
      new SignJWT({ scope, namespaces: [...namespaces] })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setSubject('ci-job')
        .setExpirationTime('30m')
        .sign(Buffer.from(JWT_SECRET)),
    async close() {
      await gateway.close(1000);
      await store.close();
    },
  };
}

/**
 * Mounts the Bazel and plain HTTP routers when createApp does not mount them itself (yet), with
 * the dependencies createApp gives the protocols (a fresh access counter aside).
 */
function mountUnlessMounted(cfg: Config, verifier: TokenVerifier): StartOptions['extend'] {
  return ({ driver, metrics }) => {
    const deps: ProtocolDeps = {
      driver,
      metrics: protocolMetrics(metrics),
      access: new AccessCounter(),
      maxArtifactSize: cfg.cache.maxArtifactSize,
      presignTtl: cfg.presignTtl,
      logger: pino({ level: 'silent' }),
      verifier,
    };
    const mounted = protocolRouters(deps).some((r) => r.stack.some((l) => String(l.path).startsWith('/bazel/')));
    return Promise.resolve(mounted ? {} : { extraRouters: [() => bazelRouter(deps), () => httpCacheRouter(deps)] });
  };
}

/** Every artifact of a key space in one namespace (the store's own listing). */
export async function listed(driver: StorageDriver, space: 'bazel-ac' | 'bazel-cas' | 'http', namespace: string): Promise<string[]> {
  const hashes: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await driver.list({ space, namespace, ...(cursor ? { cursor } : {}) });
    hashes.push(...page.items.map((i) => i.ref.hash));
    cursor = page.cursor;
  } while (cursor);
  return hashes;
}

/** A fresh namespace per test, so tests share a gateway without seeing each other's entries. */
export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
