import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import type { Config } from '../config/schema.js';
import { createMetrics, type Metrics } from '../metrics/create-metrics.js';
import { createStorageDriver } from '../storage/create-storage-driver.js';
import type { StorageDriver } from '../storage/driver.js';
import { StorageUnavailableError } from '../storage/errors.js';
import { createApp, type App, type AppDeps } from './create-app.js';

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly verifier?: TokenVerifier;
  readonly driver?: StorageDriver;
  readonly now?: () => number;
  /** Extra wiring (build routes, readiness checks), given the driver and metrics in use. */
  readonly extend?: (ctx: { driver: StorageDriver; metrics: Metrics; draining: () => boolean }) => Promise<Partial<AppDeps> & { close?: () => Promise<void> }>;
}

export interface RunningGateway {
  readonly url: string;
  readonly server: Server;
  readonly app: App;
  readonly driver: StorageDriver;
  readonly metrics: Metrics;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

/** Builds everything from config and listens. Used by `velocity-gateway`, the tests and the benches. */
export async function startGateway(opts: StartOptions): Promise<RunningGateway> {
  const { config, logger } = opts;
  const server = createServer({ keepAliveTimeout: 65_000 });
  let baseUrl = config.publicUrl?.replace(/\/$/, '') ?? '';
  const metrics = opts.metrics ?? createMetrics();
  const driver = opts.driver ?? createStorageDriver(config.storage, { baseUrl: () => baseUrl, ...(opts.now ? { now: opts.now } : {}) });
  try {
    await driver.init(AbortSignal.timeout(config.storage.s3.timeout * 1000));
  } catch (err) {
    if (!(err instanceof StorageUnavailableError)) throw err;
    // Start anyway: /readyz reports the store, and negotiation answers 503 until it is back.
    logger.error({ err: err.message }, 'storage not reachable at start-up');
  }
  const verifier =
    opts.verifier ??
    createTokenVerifier({
      tokens: config.auth.tokens,
      secret: config.auth.jwtSecret,
      jwksUrl: config.auth.jwksUrl,
      issuer: config.auth.jwtIssuer,
      audience: config.auth.jwtAudience,
      claimRules: { maxLifetimeSeconds: config.auth.jwtMaxLifetime, clockSkewSeconds: config.auth.jwtClockSkew },
      ...(opts.now ? { now: opts.now } : {}),
    });
  let draining = false;
  const extra = opts.extend ? await opts.extend({ driver, metrics, draining: () => draining }) : {};
  const app = createApp({
    config,
    logger,
    metrics,
    driver,
    verifier,
    draining: () => draining,
    ...(opts.now ? { now: opts.now } : {}),
    ...extra,
  });
  const handler = app.koa.callback();
  server.on('request', (req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  if (!baseUrl) baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;

  return {
    url,
    server,
    app,
    driver,
    metrics,
    async close(graceMs = config.shutdownGrace * 1000) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await extra.close?.();
      await driver.close();
    },
  };
}
