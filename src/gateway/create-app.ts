import type { IncomingMessage } from 'node:http';
import { Router } from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { KnownKeys } from '../cache/known-keys.js';
import { Negotiator } from '../cache/negotiator.js';
import { RecentMisses } from '../cache/recent-misses.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../metrics/create-metrics.js';
import { protocolMetrics } from '../metrics/protocol-metrics.js';
import { initialiseRouteSeries } from '../metrics/route-series.js';
import { scrapeAuth } from '../metrics/scrape-auth.js';
import { AccessCounter } from '../lifecycle/access-counter.js';
import { createLifecycle, type Lifecycle } from '../lifecycle/create-lifecycle.js';
import type { StorageDriver } from '../storage/driver.js';
import { authenticate } from './authenticate.js';
import { isProtocolUpload, protocolRouters } from './protocols/mount-protocols.js';
import { requestContext } from './request-context.js';
import { negotiateBatchRoute, negotiateRoute } from './routes/negotiate.js';
import { adminRouter } from './routes/admin.js';
import { isSelfServed, localDownloadRoute, localPartRoute, localUploadRoute } from './routes/local-objects.js';
import {
  capabilitiesRoute,
  healthzRoute,
  metricsRoute,
  readyzRoute,
  storageReadiness,
  type ReadinessCheck,
} from './routes/operations.js';
import { abortUploadRoute, completeUploadRoute } from './routes/uploads.js';
import type { GatewayState } from './state.js';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly driver: StorageDriver;
  readonly verifier: TokenVerifier;
  /** Extra readiness checks (e.g. the build queue). */
  readonly readiness?: readonly ReadinessCheck[];
  /** True once SIGTERM was received: /readyz answers 503 so load balancers move away. */
  readonly draining?: () => boolean;
  /** Routers mounted after the cache routes (e.g. builds); they get the authenticate middleware to use. */
  readonly extraRouters?: readonly ((auth: Koa.Middleware<GatewayState>) => Router<GatewayState>)[];
  /** This replica's access counter, when others count into it too (the builds' store, see start-gateway.ts). */
  readonly access?: AccessCounter;
  readonly now?: () => number;
}

export interface App {
  readonly koa: Koa<GatewayState>;
  readonly negotiator: Negotiator;
  readonly knownKeys: KnownKeys;
  readonly lifecycle: Lifecycle;
  /** Stops the lifecycle's timers and flushes this replica's last access counts. */
  close(): Promise<void>;
}

/**
 * The local driver's upload routes and the client protocols' uploads: their bodies are artifacts
 * of any size, so the slow-client rules hold them to a minimum rate rather than a total time
 * (slow-clients.ts).
 */
export function isStreamedUpload(req: IncomingMessage): boolean {
  return (req.method === 'PUT' && req.url !== undefined && req.url.startsWith('/v1/local/')) || isProtocolUpload(req);
}

/** Wires the HTTP surface; holds no state of its own beyond bounded caches of immutable facts. */
export function createApp(deps: AppDeps): App {
  const { config, metrics, driver } = deps;
  const knownKeys = new KnownKeys({ max: config.cache.knownKeys, ttlMs: config.lifecycle.knownKeysTtl * 1000, ...(deps.now ? { now: deps.now } : {}) });
  const lifecycle = createLifecycle({
    config,
    store: driver,
    registry: metrics.registry,
    logger: deps.logger,
    forget: (ref) => knownKeys.forget(ref),
    access: deps.access ?? new AccessCounter(deps.now),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const negotiator = new Negotiator({
    driver,
    knownKeys,
    access: lifecycle.access,
    recentMisses: new RecentMisses(config.cache.recentMisses, config.cache.recentMissTtl, deps.now),
    metrics,
    presignTtl: config.presignTtl,
    maxArtifactSize: config.cache.maxArtifactSize,
    multipartThreshold: config.cache.multipartThreshold,
    onUnexpectedError: (err) => deps.logger.error({ err }, 'negotiation failed'),
  });

  // X-Forwarded-For is believed only with VC_TRUSTED_PROXIES set, and then only its last entry
  // (the one the nearest proxy appended): a client's own header never names ctx.ip.
  const koa = new Koa<GatewayState>({ proxy: config.http.trustedProxies.length > 0, maxIpsCount: 1 });
  // The error middleware owns error responses; keep Koa's default stderr printer quiet.
  koa.silent = true;
  koa.use(requestContext(deps.logger, metrics, deps.draining ?? (() => false)));

  const auth = authenticate(deps.verifier);
  const router = new Router<GatewayState>();
  router.get('/healthz', healthzRoute());
  router.get('/readyz', readyzRoute([storageReadiness(driver), ...(deps.readiness ?? [])], deps.draining ?? (() => false)));
  router.get('/metrics', metricsRoute(metrics.registry, scrapeAuth(config.metrics.token)));
  router.get('/v1/capabilities', capabilitiesRoute(driver, {
    presignTtl: config.presignTtl,
    multipartThreshold: config.cache.multipartThreshold,
    multipartPartSize: config.cache.multipartPartSize,
    maxArtifactSize: config.cache.maxArtifactSize,
  }));
  router.post('/v1/negotiate', auth, negotiateRoute(negotiator));
  router.post('/v1/negotiate/batch', auth, negotiateBatchRoute(negotiator));
  router.post('/v1/uploads/complete', auth, completeUploadRoute(negotiator));
  router.post('/v1/uploads/abort', auth, abortUploadRoute(negotiator));
  if (isSelfServed(driver)) {
    // Authorised by the URL's signature, not a bearer token: the URL is the credential.
    router.get('/v1/local/:space/:namespace/:hash', localDownloadRoute(driver, metrics));
    router.head('/v1/local/:space/:namespace/:hash', localDownloadRoute(driver, metrics));
    router.put('/v1/local/:space/:namespace/:hash', localUploadRoute(driver, metrics));
    router.put('/v1/local/uploads/:namespace/:hash/:uploadId/:part', localPartRoute(driver, metrics));
  }
  koa.use(router.routes());
  koa.use(router.allowedMethods());
  const admin = adminRouter(lifecycle, auth);
  koa.use(admin.routes());
  koa.use(admin.allowedMethods());
  const routers = [router, admin];
  const protocols = protocolRouters({
    driver,
    metrics: protocolMetrics(metrics),
    access: lifecycle.access,
    maxArtifactSize: config.cache.maxArtifactSize,
    presignTtl: config.presignTtl,
    knownKeys,
    logger: deps.logger,
    verifier: deps.verifier,
  }, { bazel: { checkActionResults: config.cache.bazelCheckActionResults } });
  for (const protocol of protocols) {
    koa.use(protocol.routes());
    koa.use(protocol.allowedMethods());
    routers.push(protocol);
  }
  for (const mount of deps.extraRouters ?? []) {
    const extra = mount(auth);
    koa.use(extra.routes());
    koa.use(extra.allowedMethods());
    routers.push(extra);
  }
  initialiseRouteSeries(metrics, routers.flatMap((r) => r.stack.map((layer) => String(layer.path))));
  lifecycle.start();
  return { koa, negotiator, knownKeys, lifecycle, close: () => lifecycle.close() };
}
