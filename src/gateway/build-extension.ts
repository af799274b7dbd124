import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { createBuilds, type BuildsRuntime } from '../builds/create-builds.js';
import { buildProxy } from './build-proxy.js';
import { trustedProxies } from './proxy-forwarding.js';
import type { StartOptions } from './start-gateway.js';
import { buildsRouter } from './routes/builds.js';

export interface BuildsExtensionOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Overrides the configured in-process worker choice (tests run gateways without one). */
  readonly inProcessWorker?: boolean;
  /** Receives the runtime once it exists (tests and benches inspect the queue and the worker). */
  readonly onRuntime?: (runtime: BuildsRuntime) => void;
}

/**
 * Wires builds into a gateway through `startGateway({extend})`: the `/v1/builds` routes, the
 * interception proxy when `VC_UPSTREAM_URL` is set, a queue readiness check, the in-process worker
 * (embedded default), and a close that drains running builds.
 */
export function buildsExtension(opts: BuildsExtensionOptions): NonNullable<StartOptions['extend']> {
  return async ({ driver, metrics }) => {
    const { builds } = opts.config;
    const runtime = await createBuilds({
      config: builds,
      driver,
      logger: opts.logger,
      metrics,
      presignTtl: opts.config.presignTtl,
      ...(opts.inProcessWorker === undefined ? {} : { inProcessWorker: opts.inProcessWorker }),
    });
    opts.onRuntime?.(runtime);
    // Give the queue's connection a moment to be ready before the first request (it refuses
    // commands while not connected); start anyway when Redis is down: /readyz reports it.
    await runtime.service
      .ping(AbortSignal.timeout(Math.round(builds.redisTimeout * 1000)))
      .catch((err: unknown) => opts.logger.error({ err: (err as Error).message }, 'build queue not reachable at start-up'));
    const routers = [buildsRouter({ service: runtime.service })];
    const proxy = builds.upstreamUrl
      ? buildProxy({
          upstreamUrl: builds.upstreamUrl,
          service: runtime.service,
          buildTimeout: builds.buildTimeout,
          trusted: trustedProxies(opts.config.http.trustedProxies),
          logger: opts.logger,
        })
      : undefined;
    if (proxy) routers.push(proxy.router);
    return {
      extraRouters: routers,
      ...(proxy ? { upgrade: proxy.upgrade } : {}),
      // The in-process worker's builds get the shutdown grace, not VC_BUILD_TIMEOUT (52 s were
      // seen): past it they are stopped and handed back to the queue.
      drain: async (graceMs) => {
        await runtime.worker?.drain(graceMs);
      },
      // Bounded by VC_REDIS_TIMEOUT and the probe's own deadline: a dead Redis is "not ready" at once.
      readiness: [{ name: 'build_queue', check: (signal) => runtime.service.ping(signal) }],
      close: async () => {
        await runtime.close();
        await proxy?.close();
      },
    };
  };
}
