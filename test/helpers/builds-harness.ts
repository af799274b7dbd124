import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Principal, Scope } from '../../src/auth/principal.js';
import { BuildService } from '../../src/builds/build-service.js';
import type { BuildQueue, BuildSnapshot } from '../../src/builds/build-queue.js';
import { createBuilderFactory } from '../../src/builds/builders/create-builder.js';
import { buildsConfigSchema, type BuildsConfig } from '../../src/builds/config.js';
import { InProcessBuildQueue } from '../../src/builds/in-process-queue.js';
import { startBuildWorker, type BuildWorker } from '../../src/builds/worker.js';
import { createMetrics, type Metrics } from '../../src/metrics/create-metrics.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { MemoryDriver } from './builds-memory-driver.js';

export function principal(subject: string, ...scopes: Scope[]): Principal {
  return { subject, scopes: new Set(scopes.length ? scopes : ['build:request']), namespaces: '*' };
}

export function buildsConfig(raw: Record<string, unknown>): BuildsConfig {
  return buildsConfigSchema.parse({ initialDelay: 50, maxDelay: 1000, ...raw });
}

export interface Harness {
  readonly config: BuildsConfig;
  readonly queue: BuildQueue;
  readonly driver: StorageDriver;
  readonly service: BuildService;
  readonly metrics: Metrics;
  worker: BuildWorker | undefined;
  startWorker(): BuildWorker;
  /** Waits for a build to finish (bounded). */
  finish(id: string, ms?: number): Promise<BuildSnapshot>;
  close(): Promise<void>;
}

/** The build domain in one process: in-process queue (or the one given), a driver, service and worker. */
export async function harness(
  raw: Record<string, unknown>,
  opts: { driver?: StorageDriver; queue?: BuildQueue; worker?: boolean } = {},
): Promise<Harness> {
  const config = buildsConfig({ workDir: await mkdtemp(join(tmpdir(), 'vc-builds-')), ...raw });
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics({ processMetrics: false });
  const driver = opts.driver ?? new MemoryDriver();
  const queue = opts.queue ?? new InProcessBuildQueue({ logsTail: config.logsTail });
  const service = new BuildService({ queue, driver, config, presignTtl: 300, logger, metrics });
  service.start();
  const h: Harness = {
    config,
    queue,
    driver,
    service,
    metrics,
    worker: undefined,
    startWorker() {
      const factory = createBuilderFactory(config);
      if (!factory) throw new Error('no builder configured');
      h.worker = startBuildWorker({ queue, driver, builderFactory: factory, config, logger, metrics });
      return h.worker;
    },
    async finish(id, ms = 20_000) {
      const snapshot = await service.waitForFinish(id, AbortSignal.timeout(ms));
      if (!snapshot) throw new Error(`build ${id} unknown`);
      return snapshot;
    },
    async close() {
      service.stop();
      await h.worker?.drain();
      await queue.close();
    },
  };
  if (opts.worker ?? true) h.startWorker();
  return h;
}
