import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { createBuilds, type BuildsRuntime } from '../builds/create-builds.js';
import { buildProxy } from './build-proxy.js';
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
  return ({ driver, metrics }) => {
    const { builds } = opts.config;
    const runtime = createBuilds({
      config: builds,
      driver,
      logger: opts.logger,
      metrics,
      presignTtl: opts.config.presignTtl,
      ...(opts.inProcessWorker === undefined ? {} : { inProcessWorker: opts.inProcessWorker }),
    });
    opts.onRuntime?.(runtime);
    const routers = [buildsRouter({ service: runtime.service })];
    const proxy = builds.upstreamUrl
      ? buildProxy({ upstreamUrl: builds.upstreamUrl, service: runtime.service, buildTimeout: builds.buildTimeout })
      : undefined;
    if (proxy) routers.push(proxy.router);
    return Promise.resolve({
      extraRouters: routers,
      readiness: [{ name: 'build_queue', check: () => runtime.queue.ping() }],
      close: async () => {
        await runtime.close();
        await proxy?.close();
      },
    });
  };
}
