import { Job, Queue, QueueEvents, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { untilReady, type RedisRole } from './redis-connection.js';
import { queueTimeoutMessage, type RetryPolicy } from './build-failure.js';
import { startBullmqConsumer } from './bullmq-consumer.js';
import { startStalledChecker } from './bullmq-stalled-check.js';
import {
  LIVE_STATES,
  QueueFullError,
  buildId,
  keyOfBuildId,
  type BuildConsumer,
  type BuildEvent,
  type BuildHandler,
  type BuildJobData,
  type BuildQueue,
  type BuildResult,
  type BuildSnapshot,
  type BuildState,
  type ConsumeOptions,
  type EnsureOptions,
  type EnsureResult,
} from './build-queue.js';
import { ADD_WAITER_LUA, BUMP_GENERATION_LUA, QUEUE_NAME, REMOVE_WAITER_LUA, buildRedisKeys } from './redis-keys.js';

export interface BullmqQueueOptions {
  /** Opens a new Redis connection for a role (BullMQ needs several: commands, blocking reads, pub/sub). */
  readonly connect: (role: RedisRole) => Redis;
  readonly prefix: string;
  readonly retry: RetryPolicy;
  readonly logsTail: number;
  readonly logger: Logger;
  /** Seconds finished builds, tombstones and waiter counts are kept in Redis. */
  readonly keepSeconds?: number;
  /** Ms between checks for builds whose worker vanished (bullmq-stalled-check.ts); 0: off. */
  readonly stalledCheckMs?: number;
}

interface Tombstone {
  readonly state: BuildState;
  readonly error: string;
}

const JOB_STATES: Readonly<Record<string, BuildState>> = {
  waiting: 'queued',
  prioritized: 'queued',
  delayed: 'queued',
  paused: 'queued',
  'waiting-children': 'queued',
  active: 'building',
  completed: 'done',
  failed: 'failed',
};

const REFRESH_EVENTS = ['waiting', 'active', 'completed', 'failed', 'delayed', 'removed', 'stalled'] as const;

/**
 * BullMQ on Redis. One job per build key across any number of replicas: the BullMQ job id is the
 * build id (`<key>-<generation>`), so a second `add` of the same id is a no-op, and the generation
 * moves on only through a compare-and-increment. Waiters, cancellations and final states that
 * BullMQ does not keep (cancelled while waiting, queue timeout) live in Redis beside it.
 */
export class BullmqBuildQueue implements BuildQueue {
  readonly kind = 'bullmq' as const;
  private readonly redis: Redis;
  private readonly queue: Queue<BuildJobData, BuildResult>;
  private readonly keys;
  private readonly keepSeconds: number;
  private events: Promise<QueueEvents> | undefined;
  private readonly listeners = new Map<string, Set<(event: BuildEvent) => void>>();
  private readonly consumers = new Set<BuildConsumer>();
  private readonly connections: Redis[] = [];
  private readonly stalledChecker: Worker | undefined;

  constructor(private readonly opts: BullmqQueueOptions) {
    this.redis = this.connect('commands');
    this.queue = new Queue<BuildJobData, BuildResult>(QUEUE_NAME, { connection: this.connect('commands'), prefix: opts.prefix });
    this.queue.on('error', (err) => opts.logger.warn({ err }, 'build queue: redis error'));
    this.keys = buildRedisKeys(opts.prefix);
    this.keepSeconds = opts.keepSeconds ?? 86_400;
    const intervalMs = opts.stalledCheckMs ?? 30_000;
    this.stalledChecker =
      intervalMs > 0
        ? startStalledChecker({ connection: this.connect('blocking'), prefix: opts.prefix, intervalMs, maxStalledCount: Math.max(1, opts.retry.maxAttempts), logger: opts.logger })
        : undefined;
  }

  async ensure(data: BuildJobData, opts: EnsureOptions): Promise<EnsureResult> {
    const genKey = this.keys.generation(data.key);
    for (let round = 0; round < 20; round++) {
      const generation = Number((await this.redis.get(genKey)) ?? '0');
      const id = buildId(data.key, generation);
      const current = await this.peek(id);
      if (current === null) {
        if (opts.maxDepth > 0) {
          const depth = await this.depth();
          if (depth >= opts.maxDepth) throw new QueueFullError(depth);
        }
        // Adding an id that exists is a no-op in BullMQ: concurrent replicas converge on one job.
        await this.queue.add('build', data, {
          jobId: id,
          attempts: this.opts.retry.maxAttempts,
          backoff: { type: 'velocity' },
          removeOnComplete: { age: this.keepSeconds },
          removeOnFail: { age: this.keepSeconds },
          keepLogs: this.opts.logsTail,
        });
        return { id, state: (await this.peek(id))?.state ?? 'queued' };
      }
      if (LIVE_STATES.has(current.state)) return { id, state: current.state };
      if (current.state === 'done' && !opts.replaceFinished) return { id, state: 'done' };
      await this.redis.eval(BUMP_GENERATION_LUA, 1, genKey, String(generation));
    }
    throw new Error(`build key ${data.key}: generation did not settle`);
  }

  async get(id: string): Promise<BuildSnapshot | null> {
    const current = await this.peek(id);
    if (current === null) return null;
    const key = keyOfBuildId(id) ?? '';
    const { job, state, tomb } = current;
    const logs = job ? await this.queue.getJobLogs(id, -this.opts.logsTail, -1) : { logs: [] };
    return {
      id,
      key,
      state,
      attempts: job?.attemptsStarted ?? 0,
      enqueuedAt: job?.data.enqueuedAt,
      result: state === 'done' ? job?.returnvalue : undefined,
      error: tomb?.error ?? (state === 'done' ? undefined : job?.failedReason || undefined),
      logsTail: logs.logs,
    };
  }

  depth(): Promise<number> {
    return this.queue.getJobCountByTypes('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  }

  async hasWorkers(): Promise<boolean> {
    return (await this.redis.zcount(this.keys.workers, Date.now(), '+inf')) > 0;
  }

  async addWaiter(id: string, who: string): Promise<number> {
    return Number(await this.redis.eval(ADD_WAITER_LUA, 1, this.keys.waiters(id), who, String(this.keepSeconds)));
  }

  async removeWaiter(id: string, who: string): Promise<{ removed: boolean; remaining: number }> {
    const [removed, remaining] = (await this.redis.eval(REMOVE_WAITER_LUA, 1, this.keys.waiters(id), who)) as [number, number];
    return { removed: removed === 1, remaining };
  }

  async cancel(id: string, reason: string): Promise<void> {
    const current = await this.peek(id);
    if (current === null || !LIVE_STATES.has(current.state)) return;
    await this.finishOutsideBullmq(id, { state: 'cancelled', error: reason });
    // Running somewhere (or just taken): every worker hears this; the one holding it aborts it.
    await this.redis.publish(this.keys.cancelChannel, id);
  }

  async expireWaiting(maxWaitMs: number): Promise<number> {
    const now = Date.now();
    const waiting = await this.queue.getJobs(['waiting', 'prioritized'], 0, 999, true);
    let expired = 0;
    for (const job of waiting) {
      if (!job.id || job.attemptsStarted > 0 || now - job.data.enqueuedAt <= maxWaitMs) continue;
      await this.finishOutsideBullmq(job.id, {
        state: 'failed',
        error: queueTimeoutMessage(now - job.data.enqueuedAt, maxWaitMs),
      });
      expired++;
    }
    return expired;
  }

  async subscribe(id: string, listener: (event: BuildEvent) => void): Promise<() => void> {
    await this.queueEvents();
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(id);
    };
  }

  consume(handler: BuildHandler, opts: ConsumeOptions): BuildConsumer {
    const consumer = startBullmqConsumer({
      handler,
      opts,
      connect: () => this.connect('blocking'),
      commands: this.redis,
      prefix: this.opts.prefix,
      keys: this.keys,
      logger: this.opts.logger,
    });
    const tracked: BuildConsumer = {
      close: async (graceMs?: number) => {
        this.consumers.delete(tracked);
        await consumer.close(graceMs);
      },
    };
    this.consumers.add(tracked);
    return tracked;
  }

  /**
   * Waits for the command connection to be ready (bounded by `signal`; refused at once while
   * Redis is known to be down), then PINGs. The command connection has no offline queue, so a
   * PING sent before it is ready would fail even when Redis is about to answer.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    await untilReady(this.redis, signal);
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
    await this.stalledChecker?.close(true);
    if (this.events) await (await this.events).close();
    await this.queue.close();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private connect(role: RedisRole): Redis {
    const c = this.opts.connect(role);
    c.on('error', (err) => this.opts.logger.debug({ err }, 'build queue: redis connection error'));
    this.connections.push(c);
    return c;
  }

  /** Current state (tombstone first, unless BullMQ says the build did finish), or null if unknown. */
  private async peek(id: string): Promise<{ job?: Job<BuildJobData, BuildResult>; state: BuildState; tomb?: Tombstone } | null> {
    // The state first, then the job's fields: a job seen as finished has its result or reason written.
    const [rawTomb, rawState] = await Promise.all([this.redis.get(this.keys.tombstone(id)), this.queue.getJobState(id)]);
    const job = await Job.fromId<BuildJobData, BuildResult>(this.queue, id);
    const tomb = rawTomb ? (JSON.parse(rawTomb) as Tombstone) : undefined;
    const jobState = job ? JOB_STATES[rawState] : undefined;
    if (jobState === 'done') return { job, state: 'done' };
    if (tomb) return { job, state: tomb.state, tomb };
    if (job && jobState) return { job, state: jobState };
    return null;
  }

  /** Records a final state BullMQ will not have (the job is removed if it is still waiting). */
  private async finishOutsideBullmq(id: string, tomb: Tombstone): Promise<void> {
    await this.redis.set(this.keys.tombstone(id), JSON.stringify(tomb), 'EX', this.keepSeconds);
    const job = await Job.fromId(this.queue, id);
    if (job && (await job.getState()) !== 'active') {
      // Fails when a worker took it meanwhile: then the cancel message reaches that worker.
      await job.remove().catch(() => undefined);
    }
  }

  private queueEvents(): Promise<QueueEvents> {
    this.events ??= (async () => {
      const events = new QueueEvents(QUEUE_NAME, { connection: this.connect('blocking'), prefix: this.opts.prefix });
      events.on('error', (err) => this.opts.logger.warn({ err }, 'build events: redis error'));
      for (const name of REFRESH_EVENTS) {
        events.on(name, (args: { jobId: string }) => void this.refresh(args.jobId));
      }
      events.on('progress', ({ jobId, data }) => {
        const lines = (data as { logs?: unknown }).logs;
        if (Array.isArray(lines)) this.emit(jobId, { type: 'log', lines: lines.map(String) });
      });
      await events.waitUntilReady();
      return events;
    })();
    return this.events;
  }

  private async refresh(id: string): Promise<void> {
    if (!this.listeners.has(id)) return;
    try {
      const snapshot = await this.get(id);
      if (snapshot) this.emit(id, { type: 'state', snapshot });
    } catch (err) {
      this.opts.logger.warn({ err, build: id }, 'build events: could not read the build');
    }
  }

  private emit(id: string, event: BuildEvent): void {
    for (const listener of this.listeners.get(id) ?? []) listener(event);
  }
}
