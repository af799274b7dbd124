import type { RetryPolicy } from './build-failure.js';
import type { CanonicalBuildRequest } from './canonical-request.js';

/** What a client sees. `queued` includes a build waiting to be retried. */
export type BuildState = 'queued' | 'building' | 'done' | 'failed' | 'cancelled';

export const LIVE_STATES: ReadonlySet<BuildState> = new Set(['queued', 'building']);

/** Build ids are `<key>-<generation>`: identical requests on any replica compute the same id. */
export const BUILD_ID_PATTERN = /^([a-f0-9]{64})-(\d{1,9})$/;

export function buildId(key: string, generation: number): string {
  return `${key}-${generation}`;
}

export function keyOfBuildId(id: string): string | null {
  return BUILD_ID_PATTERN.exec(id)?.[1] ?? null;
}

export interface BuildJobData {
  readonly key: string;
  readonly canonical: CanonicalBuildRequest;
  readonly forceRebuild: boolean;
  /** Forwarded to Velox: the first requester's `request_id`, or one we made up. */
  readonly requestId: string;
  /** Subject of the token whose request started the build; recorded with the binary. */
  readonly requestedBy?: string;
  /** Epoch ms. */
  readonly enqueuedAt: number;
}

export interface BuildResult {
  readonly size: number;
  readonly sha256: string;
  /**
   * `exists`: somebody stored this key first; the stored artifact stays (first write wins).
   * `replaced`: a forced rebuild's binary replaced the stored one (builds space only).
   */
  readonly stored: 'created' | 'exists' | 'replaced';
  readonly durationMs: number;
}

export interface BuildSnapshot {
  readonly id: string;
  readonly key: string;
  readonly state: BuildState;
  /** Attempts started so far. */
  readonly attempts: number;
  readonly enqueuedAt?: number | undefined;
  readonly result?: BuildResult | undefined;
  readonly error?: string | undefined;
  readonly logsTail: readonly string[];
}

export type BuildEvent =
  | { readonly type: 'state'; readonly snapshot: BuildSnapshot }
  | { readonly type: 'log'; readonly lines: readonly string[] };

export interface EnsureOptions {
  /** Start a new generation even when this key's current build has finished successfully. */
  readonly replaceFinished: boolean;
  /** Refuse to create a new build (joining one is always allowed) when this many wait or run. 0: no limit. */
  readonly maxDepth: number;
}

export interface EnsureResult {
  readonly id: string;
  readonly state: BuildState;
}

/** Thrown by `ensure` when a new build would exceed `maxDepth`. */
export class QueueFullError extends Error {
  constructor(readonly depth: number) {
    super(`build queue is full (${depth} builds waiting or running)`);
    this.name = 'QueueFullError';
  }
}

/** What the worker's handler gets for one attempt. */
export interface BuildJobContext {
  readonly id: string;
  readonly data: BuildJobData;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Epoch ms when the first attempt started (the build timeout runs from here). */
  readonly firstStartedAt: number;
  /** Aborted when the build is cancelled or the worker is forced to stop. */
  readonly signal: AbortSignal;
  /** Appends build output (kept as the logs tail, streamed to followers). Never throws. */
  log(lines: readonly string[]): Promise<void>;
}

/** Resolves with the result, or throws a BuildFailure (retried only when `retryable`). */
export type BuildHandler = (job: BuildJobContext) => Promise<BuildResult>;

export interface ConsumeOptions {
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  /** Milliseconds a job stays locked to a worker that stopped renewing it (a dead worker). */
  readonly lockDuration: number;
  readonly logsTail: number;
}

export interface BuildConsumer {
  /**
   * Stops taking jobs and waits for the running ones (SIGTERM drain). With `graceMs`, builds still
   * running past it are stopped and handed back to the queue, where another worker takes them.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * One queue interface, two implementations: BullMQ on Redis (any number of gateway and worker
 * replicas) and an in-process queue (the embedded default). At most one live build per key.
 */
export interface BuildQueue {
  readonly kind: 'bullmq' | 'in-process';
  /** Joins the key's live build, or starts one (a new generation after a failure or when asked). */
  ensure(data: BuildJobData, opts: EnsureOptions): Promise<EnsureResult>;
  get(id: string): Promise<BuildSnapshot | null>;
  /** Builds waiting or running. */
  depth(): Promise<number>;
  /** Whether any worker is consuming builds now. */
  hasWorkers(): Promise<boolean>;
  /** Counts one more waiter (`who` identifies the caller); returns the build's waiter total. */
  addWaiter(id: string, who: string): Promise<number>;
  /** Counts one waiter less; `removed` is false when `who` was not waiting. */
  removeWaiter(id: string, who: string): Promise<{ removed: boolean; remaining: number }>;
  /** Cancels a queued or running build; a no-op for a finished one. */
  cancel(id: string, reason: string): Promise<void>;
  /** Fails builds that have waited in the queue longer than `maxWaitMs`; returns how many. */
  expireWaiting(maxWaitMs: number): Promise<number>;
  /** Follows one build: state changes and log lines. Returns the unsubscribe function. */
  subscribe(id: string, listener: (event: BuildEvent) => void): Promise<() => void>;
  consume(handler: BuildHandler, opts: ConsumeOptions): BuildConsumer;
  /** Throws when the queue's backend cannot be reached (waiting for a connection at most until `signal`). */
  ping(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
