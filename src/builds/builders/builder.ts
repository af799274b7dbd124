import type { CanonicalBuildRequest } from '../canonical-request.js';

export interface BuildInput {
  readonly key: string;
  readonly canonical: CanonicalBuildRequest;
  /** Forwarded to Velox as `request_id`. */
  readonly requestId: string;
  readonly forceRebuild: boolean;
  /** Aborted on cancellation and when the attempt's time is up. */
  readonly signal: AbortSignal;
  /** Milliseconds this attempt may still take (sent to Velox as `Connect-Timeout-Ms`). */
  readonly timeoutMs: number;
  /** Build output as it comes; the worker keeps a tail and streams it to followers. */
  readonly onLog: (lines: readonly string[]) => void;
}

export interface BuildOutput {
  /** A local file holding the binary. */
  readonly path: string;
  /** Releases what the builder made for this build (temporary directories). */
  dispose(): Promise<void>;
}

/**
 * Builds one binary. Throws BuildFailure: `retryable` for transient trouble (5xx, network, Velox's
 * 409 "already in progress"), not for invalid requests or a build that fails as such.
 */
export interface Builder {
  readonly kind: 'velox' | 'command';
  build(input: BuildInput): Promise<BuildOutput>;
  /** Releases connections and other per-slot resources (slot recycling, shutdown). */
  close(): Promise<void>;
}

export type BuilderFactory = () => Builder;

/** Splits output into lines, dropping the trailing empty one. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
