import { EventEmitter } from 'node:events';
import { InProcessConsumer } from './in-process-consumer.js';
import { BuildFailure, asBuildFailure, queueTimeoutMessage, retryDelay } from './build-failure.js';
import {
  LIVE_STATES,
  QueueFullError,
  buildId,
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

/** One build in the in-process queue (exported for the consumer only). */
export interface InProcessJob {
  readonly id: string;
  readonly data: BuildJobData;
  state: BuildState;
  attempts: number;
  firstStartedAt?: number;
  finishedAt?: number;
  result?: BuildResult;
  error?: string;
  logs: string[];
  controller?: AbortController;
  retryTimer?: NodeJS.Timeout;
  cancelReason?: string;
  readonly waiters: Map<string, number>;
}

export interface InProcessQueueOptions {
  /** Lines of output kept per build. */
  readonly logsTail: number;
  /** Finished builds remembered (for status queries) before the oldest are forgotten. */
  readonly keepFinished?: number;
}

/**
 * The embedded queue: the same contract as the BullMQ one, inside one process. Nothing survives a
 * restart, which is what "embedded" means; use Redis for replicas and durable jobs.
 */
export class InProcessBuildQueue implements BuildQueue {
  readonly kind = 'in-process' as const;
  private readonly generations = new Map<string, number>();
  private readonly jobs = new Map<string, InProcessJob>();
  private readonly waiting: string[] = [];
  private readonly events = new EventEmitter();
  private readonly consumers = new Set<InProcessConsumer>();
  private readonly logsTail: number;
  private readonly keepFinished: number;

  constructor(opts: InProcessQueueOptions) {
    this.logsTail = opts.logsTail;
    this.keepFinished = opts.keepFinished ?? 10_000;
    this.events.setMaxListeners(0);
  }

  ensure(data: BuildJobData, opts: EnsureOptions): Promise<EnsureResult> {
    for (;;) {
      const generation = this.generations.get(data.key) ?? 0;
      const id = buildId(data.key, generation);
      const job = this.jobs.get(id);
      if (job === undefined) {
        const depth = this.depthNow();
        if (opts.maxDepth > 0 && depth >= opts.maxDepth) return Promise.reject(new QueueFullError(depth));
        this.jobs.set(id, { id, data, state: 'queued', attempts: 0, logs: [], waiters: new Map() });
        this.waiting.push(id);
        this.prune();
        this.pump();
        return Promise.resolve({ id, state: 'queued' });
      }
      if (LIVE_STATES.has(job.state)) return Promise.resolve({ id, state: job.state });
      if (job.state === 'done' && !opts.replaceFinished) return Promise.resolve({ id, state: 'done' });
      this.generations.set(data.key, generation + 1);
    }
  }

  get(id: string): Promise<BuildSnapshot | null> {
    const job = this.jobs.get(id);
    return Promise.resolve(job ? this.snapshot(job) : null);
  }

  depth(): Promise<number> {
    return Promise.resolve(this.depthNow());
  }

  hasWorkers(): Promise<boolean> {
    return Promise.resolve(this.consumers.size > 0);
  }

  addWaiter(id: string, who: string): Promise<number> {
    const job = this.jobs.get(id);
    if (!job) return Promise.resolve(0);
    job.waiters.set(who, (job.waiters.get(who) ?? 0) + 1);
    return Promise.resolve(total(job.waiters));
  }

  removeWaiter(id: string, who: string): Promise<{ removed: boolean; remaining: number }> {
    const job = this.jobs.get(id);
    if (!job) return Promise.resolve({ removed: false, remaining: 0 });
    const count = job.waiters.get(who) ?? 0;
    if (count > 1) job.waiters.set(who, count - 1);
    else job.waiters.delete(who);
    return Promise.resolve({ removed: count > 0, remaining: total(job.waiters) });
  }

  cancel(id: string, reason: string): Promise<void> {
    const job = this.jobs.get(id);
    if (!job || !LIVE_STATES.has(job.state)) return Promise.resolve();
    if (job.controller) {
      // Running: the handler sees the abort and the run settles as cancelled.
      job.cancelReason = reason;
      job.controller.abort(new BuildFailure(reason, { code: 'cancelled', retryable: false }));
    } else {
      this.unqueue(job);
      this.finish(job, 'cancelled', { error: reason });
    }
    return Promise.resolve();
  }

  expireWaiting(maxWaitMs: number): Promise<number> {
    const now = Date.now();
    let expired = 0;
    for (const id of [...this.waiting]) {
      const job = this.jobs.get(id);
      if (!job || job.attempts > 0 || now - job.data.enqueuedAt <= maxWaitMs) continue;
      this.unqueue(job);
      this.finish(job, 'failed', { error: queueTimeoutMessage(now - job.data.enqueuedAt, maxWaitMs) });
      expired++;
    }
    return Promise.resolve(expired);
  }

  subscribe(id: string, listener: (event: BuildEvent) => void): Promise<() => void> {
    this.events.on(id, listener);
    return Promise.resolve(() => this.events.off(id, listener));
  }

  consume(handler: BuildHandler, opts: ConsumeOptions): BuildConsumer {
    const consumer = new InProcessConsumer(this, handler, opts);
    this.consumers.add(consumer);
    this.pump();
    return {
      close: async (graceMs?: number) => {
        this.consumers.delete(consumer);
        await consumer.drain(graceMs);
      },
    };
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.drain()));
    this.consumers.clear();
    for (const job of this.jobs.values()) clearTimeout(job.retryTimer);
  }

  // ---- used by InProcessConsumer ----

  /** Takes the next waiting job for a consumer, or undefined. */
  take(): InProcessJob | undefined {
    const id = this.waiting.shift();
    return id === undefined ? undefined : this.jobs.get(id);
  }

  started(job: InProcessJob, controller: AbortController): void {
    job.attempts++;
    job.firstStartedAt ??= Date.now();
    job.controller = controller;
    job.state = 'building';
    this.emitState(job);
  }

  settled(job: InProcessJob, outcome: { result: BuildResult } | { error: unknown }, opts: ConsumeOptions): void {
    job.controller = undefined;
    if ('result' in outcome) {
      this.finish(job, 'done', { result: outcome.result });
      return;
    }
    const failure = asBuildFailure(outcome.error);
    if (job.cancelReason !== undefined) {
      this.finish(job, 'cancelled', { error: job.cancelReason });
    } else if (failure.retryable && job.attempts < opts.retry.maxAttempts) {
      job.state = 'queued';
      job.error = failure.message;
      this.emitState(job);
      job.retryTimer = setTimeout(() => {
        job.retryTimer = undefined;
        if (job.state !== 'queued') return;
        this.waiting.push(job.id);
        this.pump();
      }, retryDelay(opts.retry, job.attempts));
    } else {
      this.finish(job, 'failed', { error: failure.message });
    }
  }

  /**
   * A build its consumer stopped while draining: first in line again, the attempt not counted (a
   * consumer still running here takes it; with none, it waits like any queued build).
   */
  handBack(job: InProcessJob): void {
    job.controller = undefined;
    job.attempts = Math.max(0, job.attempts - 1);
    if (job.cancelReason !== undefined) {
      this.finish(job, 'cancelled', { error: job.cancelReason });
      return;
    }
    job.state = 'queued';
    this.emitState(job);
    this.waiting.unshift(job.id);
    this.pump();
  }

  appendLogs(job: InProcessJob, lines: readonly string[]): void {
    job.logs.push(...lines);
    if (job.logs.length > this.logsTail) job.logs.splice(0, job.logs.length - this.logsTail);
    this.events.emit(job.id, { type: 'log', lines } satisfies BuildEvent);
  }

  pump(): void {
    for (const consumer of this.consumers) consumer.pump();
  }

  // ---- internals ----

  private depthNow(): number {
    let n = 0;
    for (const job of this.jobs.values()) if (LIVE_STATES.has(job.state)) n++;
    return n;
  }

  private unqueue(job: InProcessJob): void {
    const at = this.waiting.indexOf(job.id);
    if (at !== -1) this.waiting.splice(at, 1);
    clearTimeout(job.retryTimer);
    job.retryTimer = undefined;
  }

  private finish(job: InProcessJob, state: BuildState, extra: { result?: BuildResult; error?: string }): void {
    job.state = state;
    job.result = extra.result;
    job.error = extra.error;
    job.finishedAt = Date.now();
    this.emitState(job);
  }

  private emitState(job: InProcessJob): void {
    this.events.emit(job.id, { type: 'state', snapshot: this.snapshot(job) } satisfies BuildEvent);
  }

  private snapshot(job: InProcessJob): BuildSnapshot {
    return {
      id: job.id,
      key: job.data.key,
      state: job.state,
      attempts: job.attempts,
      enqueuedAt: job.data.enqueuedAt,
      result: job.result,
      error: job.state === 'done' ? undefined : job.error,
      logsTail: [...job.logs],
    };
  }

  /** Forgets the oldest finished builds beyond `keepFinished`, so a long-lived process stays bounded. */
  private prune(): void {
    if (this.jobs.size <= this.keepFinished) return;
    const finished = [...this.jobs.values()]
      .filter((j) => j.finishedAt !== undefined)
      .sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const job of finished.slice(0, this.jobs.size - this.keepFinished)) this.jobs.delete(job.id);
  }
}

function total(waiters: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const c of waiters.values()) n += c;
  return n;
}
