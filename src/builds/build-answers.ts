import type { BuildFacts } from './build-metadata.js';
import type { BuildState } from './build-queue.js';

/** The answers of `/v1/builds` (docs/builds.md): a hit, a queued build, a build's state. */

export interface FoundAnswer {
  readonly status: 'found';
  readonly hash: string;
  readonly url: string;
  readonly expires_at: string;
  readonly size: number;
  readonly sha256: string;
  /** Who built the binary and from what, as the worker recorded it. */
  readonly build: BuildFacts;
}

export interface QueuedAnswer {
  readonly status: 'queued' | 'building';
  readonly id: string;
  readonly hash: string;
}

export interface StatusAnswer {
  readonly status: BuildState;
  readonly id: string;
  readonly hash: string;
  readonly url?: string;
  readonly expires_at?: string;
  readonly size?: number;
  readonly sha256?: string;
  readonly build?: BuildFacts;
  readonly error?: string;
  readonly logs_tail?: readonly string[];
}
