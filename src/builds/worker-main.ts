import { Command } from 'commander';
import { envVariablesHelp } from '../config/env-help.js';
import { loadConfig } from '../config/load-config.js';
import { exitAfterDrain } from '../process-signals.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../logging/create-logger.js';
import { createMetrics } from '../metrics/create-metrics.js';
import { packageVersion } from '../metrics/package-version.js';
import { scrapeAuth } from '../metrics/scrape-auth.js';
import { createStorageDriver } from '../storage/create-storage-driver.js';
import { NO_BUILDER_MESSAGE, createBuilderFactory } from './builders/create-builder.js';
import { builderKind } from './config.js';
import { createBuildQueue } from './create-builds.js';
import { startBuildWorker, workerIdentity } from './worker.js';
import { startWorkerHttp } from './worker-http.js';

/**
 * `velocity-worker`: takes builds from the BullMQ queue on `VC_REDIS_URL`, builds with Velox or
 * the build command, uploads to the configured store. SIGTERM drains: no new builds, the running
 * ones finish within VC_SHUTDOWN_GRACE or are handed back (a second SIGTERM stops at once; the
 * builds' process groups die with the worker, their locks lapse and another worker takes them).
 */
export async function workerMain(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const opts = new Command('velocity-worker')
    .description('Velocity build worker: builds RoadRunner binaries queued in Redis (VC_REDIS_URL) and stores them')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'YAML config file (environment variables override it; also VC_CONFIG)')
    .addHelpText('after', envVariablesHelp())
    .parse([...argv])
    .opts<{ config?: string }>();
  let config: Config;
  try {
    config = await loadConfig({ env, configFile: opts.config });
    const problems: string[] = [];
    if (!config.builds.redisUrl) problems.push('builds.redisUrl (VC_REDIS_URL): required by velocity-worker (without Redis the gateway runs builds itself)');
    if (!createBuilderFactory(config.builds, env)) problems.push(`builds: ${NO_BUILDER_MESSAGE}`);
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`velocity-worker: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, name: 'velocity-worker' });
  const metrics = createMetrics({ program: 'velocity-worker' });
  const driver = await createStorageDriver(config.storage, { baseUrl: () => config.publicUrl ?? '' });
  await driver.init(AbortSignal.timeout(config.storage.s3.timeout * 1000));
  const queue = await createBuildQueue(config.builds, logger);
  // Redis down at start-up is an outage like any other: the worker's connections wait for it and
  // builds start once it answers.
  await queue
    .ping(AbortSignal.timeout(Math.round(config.builds.redisTimeout * 1000)))
    .catch((err: unknown) => logger.warn({ err }, 'Redis not reachable yet; builds start once it answers'));
  const factory = createBuilderFactory(config.builds, env);
  if (!factory) throw new Error(NO_BUILDER_MESSAGE);
  const worker = startBuildWorker({
    queue,
    driver,
    builderFactory: factory,
    config: config.builds,
    logger,
    metrics,
    identity: workerIdentity('velocity-worker'),
  });
  let draining = false;
  const redisTimeoutMs = Math.round(config.builds.redisTimeout * 1000);
  const http = await startWorkerHttp(
    {
      registry: metrics.registry,
      auth: scrapeAuth(config.metrics.token),
      checks: [
        { name: 'redis', check: (signal) => queue.ping(signal) },
        // Start-up refuses a worker without one; the check states it for whoever reads /readyz.
        { name: 'builder', check: () => (builderKind(config.builds) === 'none' ? Promise.reject(new Error(NO_BUILDER_MESSAGE)) : Promise.resolve()) },
      ],
      draining: () => draining,
      logger,
      checkTimeoutMs: redisTimeoutMs,
      stats: () => worker.stats(),
    },
    { host: config.host, port: config.builds.workerPort },
  );
  logger.info(
    { concurrency: config.builds.concurrency, builder: builderKind(config.builds), storage: driver.name, port: http.port },
    'velocity-worker taking builds',
  );

  exitAfterDrain(
    logger,
    async () => {
      // /readyz turns 503 at once; /metrics keeps answering until the running builds are done,
      // so the last scrape before exit still counts them. Builds still running after the
      // shutdown grace are stopped and handed back to the queue (another worker takes them at
      // once), so a SIGTERM never waits for a long build (Kubernetes would SIGKILL us anyway).
      draining = true;
      await worker.drain(config.shutdownGrace * 1000);
      await http.close();
      await queue.close();
      await driver.close();
    },
    {
      message: 'draining: running builds finish, no new ones start',
      onRepeat: (signal) => {
        logger.warn({ signal }, 'stopping now; running builds will be picked up by another worker');
        process.exit(1);
      },
    },
  );
}
