import type { Logger } from 'pino';
import type { Metrics } from '../metrics/create-metrics.js';
import type { StorageDriver } from '../storage/driver.js';
import type { BuildQueue } from './build-queue.js';
import { BuildService } from './build-service.js';
import { createBuilderFactory } from './builders/create-builder.js';
import { runsInProcessWorker, type BuildsConfig } from './config.js';
import { InProcessBuildQueue } from './in-process-queue.js';
import { startBuildWorker, workerIdentity, type BuildWorker } from './worker.js';

/**
 * BullMQ when `redisUrl` is set, the in-process queue otherwise. BullMQ and ioredis are loaded only
 * then: the embedded default never pays for them (about 10 MB of memory).
 */
export async function createBuildQueue(config: BuildsConfig, logger: Logger): Promise<BuildQueue> {
  if (config.redisUrl === undefined) return new InProcessBuildQueue({ logsTail: config.logsTail });
  const [{ BullmqBuildQueue }, { connectRedis }] = await Promise.all([import('./bullmq-queue.js'), import('./redis-connection.js')]);
  const url = config.redisUrl;
  const timeoutMs = Math.round(config.redisTimeout * 1000);
  return new BullmqBuildQueue({
    connect: (role) => connectRedis(url, role, timeoutMs),
    prefix: config.redisPrefix,
    logsTail: config.logsTail,
    logger,
    // A dead worker's build is put back within about two lock durations, live worker or not.
    stalledCheckMs: config.lockDuration,
    retry: {
      maxAttempts: config.maxAttempts,
      initialDelay: config.initialDelay,
      maxDelay: config.maxDelay,
      backoffMultiplier: config.backoffMultiplier,
    },
  });
}

export interface BuildsRuntime {
  readonly queue: BuildQueue;
  readonly service: BuildService;
  /** Set when this process runs a worker (the embedded default, or VC_BUILD_IN_PROCESS_WORKER). */
  readonly worker: BuildWorker | undefined;
  /** Drains the worker (running builds finish), then closes the queue. */
  close(): Promise<void>;
}

export interface CreateBuildsDeps {
  readonly config: BuildsConfig;
  readonly driver: StorageDriver;
  readonly logger: Logger;
  readonly presignTtl: number;
  readonly metrics?: Metrics | undefined;
  /** Overrides `runsInProcessWorker(config)`. */
  readonly inProcessWorker?: boolean;
  /** Where a build command's safe and declared variables come from (this process's environment). */
  readonly sourceEnv?: Readonly<Record<string, string | undefined>>;
}

/** Everything the gateway needs for builds: queue, service and (when configured) an in-process worker. */
export async function createBuilds(deps: CreateBuildsDeps): Promise<BuildsRuntime> {
  const logger = deps.logger.child({ component: 'builds' });
  const queue = await createBuildQueue(deps.config, logger);
  const service = new BuildService({
    queue,
    driver: deps.driver,
    config: deps.config,
    presignTtl: deps.presignTtl,
    logger,
    metrics: deps.metrics,
  });
  service.start();
  const factory = createBuilderFactory(deps.config, deps.sourceEnv);
  const wantWorker = deps.inProcessWorker ?? runsInProcessWorker(deps.config);
  const worker =
    wantWorker && factory
      ? startBuildWorker({
          queue,
          driver: deps.driver,
          builderFactory: factory,
          config: deps.config,
          logger,
          metrics: deps.metrics,
          identity: workerIdentity('velocity-gateway'),
        })
      : undefined;
  return {
    queue,
    service,
    worker,
    close: async () => {
      service.stop();
      await worker?.drain();
      await queue.close();
    },
  };
}
