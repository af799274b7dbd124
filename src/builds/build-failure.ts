/**
 * Why a build attempt failed, and whether trying again can help. Transient: 5xx, network, a
 * timed-out attempt, Velox's 409 "already in progress". Permanent: an invalid request, a
 * compilation error the builder reports as such, a cancellation, a queue wait past its limit.
 */
export type BuildFailureCode =
  | 'builder_unavailable'
  | 'builder_rejected'
  /** The builder cannot build what the request asks (fields a released Velox drops; Windows on Velox v3). */
  | 'unsupported_request'
  /** Velox's `already_exists` outlasted the wait budget (VC_VELOX_BUSY_WAIT). */
  | 'builder_busy'
  | 'build_failed'
  | 'attempt_timeout'
  | 'build_timeout'
  | 'queue_timeout'
  | 'cancelled'
  | 'upload_failed'
  | 'no_builder';

export class BuildFailure extends Error {
  readonly code: BuildFailureCode;
  readonly retryable: boolean;
  /** Last lines of the builder's output (stderr, Velox logs), when there are any. */
  readonly logsTail: readonly string[];

  constructor(
    message: string,
    opts: { code: BuildFailureCode; retryable: boolean; logsTail?: readonly string[]; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BuildFailure';
    this.code = opts.code;
    this.retryable = opts.retryable;
    this.logsTail = opts.logsTail ?? [];
  }
}

/** Anything thrown by a builder that is not a BuildFailure: treated as transient (a bug or an outage). */
export function asBuildFailure(err: unknown): BuildFailure {
  if (err instanceof BuildFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BuildFailure(message, { code: 'builder_unavailable', retryable: true, cause: err });
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  /** Milliseconds. */
  readonly initialDelay: number;
  /** Milliseconds. */
  readonly maxDelay: number;
  readonly backoffMultiplier: number;
}

/** Delay before retry number `retry` (1 = the first retry): initial * multiplier^(retry-1), capped. */
export function retryDelay(policy: RetryPolicy, retry: number): number {
  const raw = policy.initialDelay * Math.pow(policy.backoffMultiplier, Math.max(0, retry - 1));
  return Math.round(Math.min(policy.maxDelay, raw));
}

/** The one wording of a queue-timeout failure, whichever component notices it. */
export function queueTimeoutMessage(waitedMs: number, limitMs: number): string {
  return (
    `build waited ${Math.round(waitedMs / 1000)} s in the queue, longer than the queue timeout ` +
    `(VC_BUILD_QUEUE_TIMEOUT=${Math.round(limitMs / 1000)} s); no worker took it in time`
  );
}
