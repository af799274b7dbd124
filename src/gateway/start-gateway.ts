import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createTokenVerifier, type TokenVerifier } from '../auth/token-verifier.js';
import type { Config } from '../config/schema.js';
import { AccessCounter } from '../lifecycle/access-counter.js';
import { countingReads } from '../lifecycle/counting-store.js';
import { createMetrics, type Metrics } from '../metrics/create-metrics.js';
import { createStorageDriver } from '../storage/create-storage-driver.js';
import type { StorageDriver } from '../storage/driver.js';
import { StorageUnavailableError } from '../storage/errors.js';
import { createApp, isStreamedUpload, type App, type AppDeps } from './create-app.js';
import { SlowClientGuard } from './slow-clients.js';

export interface StartOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly verifier?: TokenVerifier;
  readonly driver?: StorageDriver;
  readonly now?: () => number;
  /** Extra wiring (build routes, readiness checks), given the driver and metrics in use. */
  readonly extend?: (ctx: { driver: StorageDriver; metrics: Metrics; draining: () => boolean }) => Promise<Partial<AppDeps> & ExtensionHooks>;
}

export interface ExtensionHooks {
  close?: () => Promise<void>;
  /** The server's `upgrade` listener (proxy mode's WebSockets); without one Node refuses upgrades. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Started with close, beside the HTTP drain, under the same grace (the in-process worker's builds). */
  drain?: (graceMs: number) => Promise<void>;
}

export interface RunningGateway {
  readonly url: string;
  readonly server: Server;
  readonly app: App;
  readonly driver: StorageDriver;
  readonly metrics: Metrics;
  /**
   * Stops accepting; answers from now on carry `Connection: close` (request-context.ts), so busy
   * keep-alive clients move to another replica after their current request instead of being
   * reset at the deadline; idle connections are closed within IDLE_LINGER_MS. In-flight requests
   * get up to `graceMs`, then the rest are closed. Resolves as soon as no connection is left.
   */
  close(graceMs?: number): Promise<void>;
}

/** How long a connection idle at SIGTERM may still bring a request (answered with `Connection: close`). */
const IDLE_LINGER_MS = 100;

/** Builds everything from config and listens. Used by `velocity-gateway`, the tests and the benches. */
export async function startGateway(opts: StartOptions): Promise<RunningGateway> {
  const { config, logger } = opts;
  const limits = config.http;
  const headersTimeout = Math.round(limits.headersTimeout * 1000);
  const server = createServer({
    keepAliveTimeout: 65_000,
    headersTimeout,
    requestTimeout: Math.round(limits.requestTimeout * 1000),
    // Node checks both timeouts on this period (30 s by default, which would let a slow header run
    // 30 s past its limit).
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.round(headersTimeout / 4))),
  });
  // Past this, Node closes new connections at once: one client cannot take every socket we have.
  server.maxConnections = limits.maxConnections;
  const slowClients = new SlowClientGuard(
    {
      bodyTimeoutMs: limits.bodyTimeout * 1000,
      uploadRateWindowMs: limits.uploadRateWindow * 1000,
      uploadMinBytesPerSecond: limits.uploadMinRate,
      isStreamedUpload,
      ...(opts.now ? { now: opts.now } : {}),
    },
    logger,
  );
  let baseUrl = config.publicUrl?.replace(/\/$/, '') ?? '';
  const metrics = opts.metrics ?? createMetrics();
  const driver = opts.driver ?? await createStorageDriver(config.storage, { baseUrl: () => baseUrl, ...(opts.now ? { now: opts.now } : {}) });
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
  // Build lookups count as hits for eviction: the builds get a store that counts its reads.
  const access = new AccessCounter(opts.now);
  const extra = opts.extend ? await opts.extend({ driver: countingReads(driver, access), metrics, draining: () => draining }) : {};
  const app = createApp({
    config,
    logger,
    metrics,
    driver,
    verifier,
    access,
    draining: () => draining,
    ...(opts.now ? { now: opts.now } : {}),
    ...extra,
  });
  if (extra.upgrade) server.on('upgrade', extra.upgrade);
  const handler = app.koa.callback();
  server.on('request', (req, res) => {
    slowClients.track(req, res);
    void handler(req, res);
  });
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
      const drained = extra.drain?.(graceMs);
      // Stop accepting, but (unlike http.Server#close) do not close idle keep-alive connections in
      // the same instant: on a busy connection the client's next request is often already on the
      // wire or unread in our buffer, and closing then resets it (5 of 6 busy loops were reset in
      // a test). A busy connection gets `Connection: close` with its next answer, milliseconds
      // later; what is still idle after IDLE_LINGER_MS has no request coming and is closed then.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      const idle = setInterval(() => server.closeIdleConnections(), IDLE_LINGER_MS);
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearInterval(idle);
      clearTimeout(timer);
      // http's own close, for its timeout checker (the listener is already gone).
      server.close();
      slowClients.stop();
      await drained;
      await extra.close?.();
      await app.close();
      await driver.close();
    },
  };
}
