import { randomUUID } from 'node:crypto';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { asBuildFailure, retryDelay } from './build-failure.js';
import type { BuildConsumer, BuildHandler, BuildJobData, BuildResult, ConsumeOptions } from './build-queue.js';
import { drainWithin, handBackReason } from './hand-back.js';
import { QUEUE_NAME, type BuildRedisKeys } from './redis-keys.js';

export interface BullmqConsumerDeps {
  readonly handler: BuildHandler;
  readonly opts: ConsumeOptions;
  readonly connect: () => Redis;
  /** The queue's command connection (heartbeats). */
  readonly commands: Redis;
  readonly prefix: string;
  readonly keys: BuildRedisKeys;
  readonly logger: Logger;
}

type StoredJobData = BuildJobData & { firstStartedAt?: number };

const HEARTBEAT_MS = 5000;

/**
 * A BullMQ worker around the build handler. A worker that dies stops renewing its job's lock;
 * after `lockDuration` another worker's stalled-job check puts the job back in the queue, and it
 * is built again (the upload is a conditional create, so a second completion never overwrites).
 */
export function startBullmqConsumer(deps: BullmqConsumerDeps): BuildConsumer {
  const { handler, opts, logger } = deps;
  const workerId = randomUUID();

  const running = new Map<string, AbortController>();
  const handedBack = new Set<string>();

  const processor = async (job: Job<StoredJobData, BuildResult>, token?: string, signal?: AbortSignal) => {
    const data = job.data;
    let firstStartedAt = data.firstStartedAt;
    if (firstStartedAt === undefined) {
      firstStartedAt = Date.now();
      await job.updateData({ ...data, firstStartedAt });
    }
    // Our own controller, so a drain past the grace can stop this build (BullMQ's signal is for
    // cancellations, and close(true) does not put a job back).
    const controller = new AbortController();
    const forward = () => controller.abort(signal?.reason);
    if (signal?.aborted) forward();
    else signal?.addEventListener('abort', forward, { once: true });
    const jobSignal = controller.signal;
    const id = job.id ?? '';
    running.set(id, controller);
    try {
      return await handler({
        id: job.id ?? '',
        data,
        attempt: Math.max(1, job.attemptsStarted),
        firstStartedAt,
        signal: jobSignal,
        log: async (lines) => {
          const tail = lines.slice(-opts.logsTail);
          try {
            for (const line of tail) await job.log(line);
            await job.updateProgress({ logs: tail });
          } catch (err) {
            logger.warn({ err, build: job.id }, 'could not record build output');
          }
        },
      });
    } catch (err) {
      if (handedBack.has(id) && token !== undefined) {
        // Straight back to waiting: another worker takes it now, not after the lock lapses.
        await job.moveToWait(token);
        logger.info({ build: id }, 'build handed back to the queue: this worker is stopping');
        throw new WaitingError();
      }
      const failure = asBuildFailure(err);
      // BullMQ retries (with our backoff) anything but an UnrecoverableError.
      if (!failure.retryable || jobSignal.aborted) throw new UnrecoverableError(failure.message);
      throw new Error(failure.message, { cause: err });
    } finally {
      signal?.removeEventListener('abort', forward);
      running.delete(id);
      handedBack.delete(id);
    }
  };

  const worker = new Worker<StoredJobData, BuildResult>(QUEUE_NAME, processor, {
    connection: deps.connect(),
    prefix: deps.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockDuration,
    stalledInterval: opts.lockDuration,
    // A job whose worker died is put back this many times before it counts as failed.
    maxStalledCount: Math.max(1, opts.retry.maxAttempts),
    settings: { backoffStrategy: (attemptsMade: number) => retryDelay(opts.retry, attemptsMade) },
    name: `velocity-worker-${workerId}`,
  });
  worker.on('error', (err) => logger.warn({ err }, 'build worker: redis error'));
  worker.on('stalled', (jobId) => logger.warn({ build: jobId }, 'build stalled (its worker died?); it is queued again'));

  const subscriber = deps.connect();
  subscriber.on('error', (err) => logger.debug({ err }, 'build worker: cancel channel error'));
  subscriber.on('message', (_channel: string, id: string) => {
    if (worker.cancelJob(id, 'cancelled')) logger.info({ build: id }, 'build cancelled: nobody waits for it');
  });
  void subscriber.subscribe(deps.keys.cancelChannel).catch((err: unknown) => logger.warn({ err }, 'could not subscribe to cancellations'));

  const beat = () =>
    deps.commands
      .multi()
      .zadd(deps.keys.workers, Date.now() + 3 * HEARTBEAT_MS, workerId)
      .zremrangebyscore(deps.keys.workers, 0, Date.now())
      .exec()
      .catch((err: unknown) => logger.warn({ err }, 'build worker: heartbeat failed'));
  void beat();
  const heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
  heartbeat.unref();

  return {
    close: async (graceMs?: number) => {
      clearInterval(heartbeat);
      // close() without force waits for the running builds: the SIGTERM drain, bounded by the
      // grace; builds still running then are stopped and handed back.
      await drainWithin(worker.close(), graceMs, () => {
        for (const [id, controller] of running) {
          handedBack.add(id);
          controller.abort(handBackReason());
        }
      });
      await deps.commands.zrem(deps.keys.workers, workerId).catch(() => undefined);
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}
