import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { QUEUE_NAME } from './redis-keys.js';

export interface StalledCheckOptions {
  readonly connection: Redis;
  readonly prefix: string;
  readonly intervalMs: number;
  /** Times a build is put back before it fails (as the consumers' own setting). */
  readonly maxStalledCount: number;
  readonly logger: Logger;
}

/**
 * BullMQ moves a job whose worker stopped renewing its lock back to waiting (or fails it past
 * `maxStalledCount`), but only from inside a running Worker: with no live worker, a dead worker's
 * build stayed `building` for ever. A processor-less Worker that never fetches runs that check
 * here too (BullMQ's manual-fetch pattern); BullMQ lets one check run per period across replicas.
 */
export function startStalledChecker(opts: StalledCheckOptions): Worker {
  const checker = new Worker(QUEUE_NAME, null, {
    connection: opts.connection,
    prefix: opts.prefix,
    autorun: false,
    stalledInterval: opts.intervalMs,
    maxStalledCount: opts.maxStalledCount,
  });
  checker.on('error', (err) => opts.logger.debug({ err }, 'build queue: stalled check failed'));
  void checker.startStalledCheckTimer().catch((err: unknown) => opts.logger.warn({ err }, 'build queue: stalled check not started'));
  return checker;
}
