import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/create-metrics.js';
import type { ArtifactRef, StorageDriver } from '../storage/driver.js';
import { ArtifactExistsError, isStorageOutage } from '../storage/errors.js';
import { buildArtifactRef } from './build-artifact.js';
import { BuildFailure, asBuildFailure, queueTimeoutMessage } from './build-failure.js';
import { buildMetadata, forcedMetadata } from './build-metadata.js';
import type { BuildConsumer, BuildJobContext, BuildQueue, BuildResult } from './build-queue.js';
import type { BuilderFactory } from './builders/builder.js';
import type { BuildsConfig } from './config.js';
import { digestFile } from './file-digest.js';
import { SlotPool, type SlotPoolStats } from './slot-pool.js';

export interface BuildWorkerDeps {
  readonly queue: BuildQueue;
  readonly driver: StorageDriver;
  readonly builderFactory: BuilderFactory;
  readonly config: BuildsConfig;
  readonly logger: Logger;
  readonly metrics?: Pick<Metrics, 'buildsTotal' | 'buildDuration' | 'storageErrors'> | undefined;
  /** Recorded as `built-by` with every binary this worker uploads; see workerIdentity(). */
  readonly identity?: string;
}

/** `<program>@<host>/<pid>/<random>`: which process built a binary, unique across restarts. */
export function workerIdentity(program: string): string {
  return `${program}@${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

export interface BuildWorker {
  /**
   * Stops taking builds and waits for the running ones, then releases the builders. Past
   * `graceMs` the running builds are stopped and handed back to the queue.
   */
  drain(graceMs?: number): Promise<void>;
  stats(): SlotPoolStats;
}

type Outcome = 'success' | 'failure' | 'retry' | 'cancelled' | 'timeout';

/**
 * Takes builds from the queue: a concurrency limit (one slot per running build), slot recycling,
 * a queue-wait limit, a per-attempt and a per-build timeout, then an upload with the guarantees
 * of any upload (declared length and digest, conditional create) and the Velox cache metadata.
 */
export function startBuildWorker(deps: BuildWorkerDeps): BuildWorker {
  const { config, driver, logger } = deps;
  const pool = new SlotPool(
    { min: Math.min(config.minSlots, config.concurrency), max: config.concurrency, recycleAfter: config.recycleAfter, idleMs: config.slotIdleTimeout * 1000 },
    deps.builderFactory,
    logger,
  );
  const identity = deps.identity ?? workerIdentity('velocity-worker');

  const count = (outcome: Outcome) => deps.metrics?.buildsTotal.inc({ result: outcome });

  async function handle(job: BuildJobContext): Promise<BuildResult> {
    const log = logger.child({ build: job.id, attempt: job.attempt });
    const ref = buildArtifactRef(config.namespace, job.data.key);

    const queueLimitMs = config.queueTimeout * 1000;
    const waited = job.firstStartedAt - job.data.enqueuedAt;
    if (queueLimitMs > 0 && job.attempt === 1 && waited > queueLimitMs) {
      count('timeout');
      throw new BuildFailure(queueTimeoutMessage(waited, queueLimitMs), { code: 'queue_timeout', retryable: false });
    }

    // Stored already (a worker that died between its upload and reporting it): nothing to build.
    if (!job.data.forceRebuild) {
      const info = (await driver.head(ref, job.signal).catch(() => null))?.info;
      if (info) {
        log.info('artifact already stored; build skipped');
        count('success');
        return { size: info.size, sha256: info.sha256, stored: 'exists', durationMs: 0 };
      }
    }

    const remaining = job.firstStartedAt + config.buildTimeout * 1000 - Date.now();
    if (remaining <= 0) {
      count('timeout');
      throw new BuildFailure(`build timed out: it took more than ${config.buildTimeout} s (VC_BUILD_TIMEOUT)`, {
        code: 'build_timeout',
        retryable: false,
      });
    }
    const attemptMs = Math.min(config.requestTimeout * 1000, remaining);
    const lastChance = attemptMs === remaining;
    const timer = AbortSignal.timeout(attemptMs);
    const signal = AbortSignal.any([job.signal, timer]);

    const slot = await pool.acquire();
    const started = performance.now();
    log.info({ slot: slot.index, builder: slot.builder.kind }, 'build started');
    try {
      const output = await slot.builder.build({
        key: job.data.key,
        canonical: job.data.canonical,
        requestId: job.data.requestId,
        forceRebuild: job.data.forceRebuild,
        signal,
        timeoutMs: attemptMs,
        onLog: (lines) => void job.log(lines),
      });
      try {
        const result = await upload(ref, job, { path: output.path, builder: slot.builder.kind }, started, signal);
        const seconds = (performance.now() - started) / 1000;
        deps.metrics?.buildDuration.observe(seconds);
        count('success');
        log.info({ size: result.size, stored: result.stored, seconds }, 'build done');
        return result;
      } finally {
        await output.dispose().catch((err: unknown) => log.warn({ err }, 'could not remove the build output'));
      }
    } catch (err) {
      const failure = classify(err, job.signal, timer, lastChance, config);
      count(
        failure.code === 'cancelled'
          ? 'cancelled'
          : failure.code === 'build_timeout'
            ? 'timeout'
            : failure.retryable
              ? 'retry'
              : 'failure',
      );
      log.warn({ code: failure.code, retryable: failure.retryable, err: failure.message }, 'build attempt failed');
      throw failure;
    } finally {
      await pool.release(slot);
    }
  }

  async function upload(
    ref: ArtifactRef,
    job: BuildJobContext,
    output: { path: string; builder: 'velox' | 'command' },
    started: number,
    signal: AbortSignal,
  ): Promise<BuildResult> {
    const { path } = output;
    const digest = await digestFile(path, signal);
    const durationMs = performance.now() - started;
    // force_rebuild: the new binary replaces the stored one (the one exception to first write
    // wins, builds space only: ReplaceFacet in storage/driver.ts), recording which one it replaced.
    const replace = job.data.forceRebuild ? driver.replace : undefined;
    const replacing = replace ? ((await driver.head(ref, signal))?.info.sha256 ?? '') : undefined;
    const intent = {
      ref,
      size: digest.size,
      sha256: digest.sha256,
      md5: driver.capabilities.digest === 'md5' ? digest.md5 : undefined,
      meta: {
        ...buildMetadata(job.data.canonical, {
          key: job.data.key,
          durationMs,
          builtBy: identity,
          // Absent on jobs queued by a gateway older than this field.
          requestedBy: job.data.requestedBy ?? 'unknown',
          builder: output.builder,
        }),
        ...(replacing === undefined ? {} : forcedMetadata(replacing)),
      },
    };
    let stored: BuildResult['stored'];
    try {
      if (replace) {
        await replace.replace(intent, createReadStream(path), signal);
        stored = 'replaced';
      } else {
        stored = await driver.write(intent, createReadStream(path), signal);
      }
    } catch (err) {
      if (!(err instanceof ArtifactExistsError)) {
        if (signal.aborted) throw err;
        if (isStorageOutage(err)) deps.metrics?.storageErrors.inc({ operation: 'build_upload' });
        throw new BuildFailure(`upload failed: ${(err as Error).message}`, { code: 'upload_failed', retryable: true, cause: err });
      }
      stored = 'exists';
    }
    // First write wins: when somebody stored this key first, theirs is the artifact.
    if (stored === 'exists') {
      const info = (await driver.head(ref, signal))?.info;
      if (info) return { size: info.size, sha256: info.sha256, stored, durationMs };
    }
    return { size: digest.size, sha256: digest.sha256, stored, durationMs };
  }

  let consumer: BuildConsumer | undefined = deps.queue.consume(handle, {
    concurrency: config.concurrency,
    lockDuration: config.lockDuration,
    logsTail: config.logsTail,
    retry: {
      maxAttempts: config.maxAttempts,
      initialDelay: config.initialDelay,
      maxDelay: config.maxDelay,
      backoffMultiplier: config.backoffMultiplier,
    },
  });

  return {
    drain: async (graceMs?: number) => {
      const c = consumer;
      consumer = undefined;
      if (c) await c.close(graceMs);
      await pool.close();
    },
    stats: () => pool.stats(),
  };
}

function classify(
  err: unknown,
  cancel: AbortSignal,
  timer: AbortSignal,
  lastChance: boolean,
  config: BuildsConfig,
): BuildFailure {
  if (cancel.aborted) {
    return cancel.reason instanceof BuildFailure
      ? cancel.reason
      : new BuildFailure('build cancelled: nobody waits for it any more', { code: 'cancelled', retryable: false });
  }
  if (timer.aborted) {
    return lastChance
      ? new BuildFailure(`build timed out: it took more than ${config.buildTimeout} s (VC_BUILD_TIMEOUT)`, {
          code: 'build_timeout',
          retryable: false,
        })
      : new BuildFailure(`build attempt timed out after ${config.requestTimeout} s (VC_BUILD_REQUEST_TIMEOUT)`, {
          code: 'attempt_timeout',
          retryable: true,
        });
  }
  return asBuildFailure(err);
}
