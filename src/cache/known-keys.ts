import { LRUCache } from 'lru-cache';
import type { ArtifactInfo, ArtifactRef, PresignedRequest } from '../storage/driver.js';
import { describeRef } from '../storage/object-keys.js';

export interface KnownKey {
  readonly info: ArtifactInfo;
  /** The last download URL handed out for this key, with its expiry pre-formatted. */
  download?: { readonly request: PresignedRequest; readonly expiresAtIso: string };
}

/**
 * L1: keys known to exist, with their metadata and the last download URL handed out. Artifacts are
 * immutable once written, so a positive entry can never go stale; only absence is never cached.
 * Bounded by entry count (LRU).
 */
export class KnownKeys {
  private readonly lru: LRUCache<string, KnownKey> | undefined;

  constructor(max: number) {
    this.lru = max > 0 ? new LRUCache<string, KnownKey>({ max }) : undefined;
  }

  private static id(ref: ArtifactRef): string {
    return describeRef(ref);
  }

  get(ref: ArtifactRef): ArtifactInfo | undefined {
    return this.lru?.get(KnownKeys.id(ref))?.info;
  }

  /** The whole entry (info and last download URL) in one lookup: the hit path. */
  entry(ref: ArtifactRef): KnownKey | undefined {
    return this.lru?.get(KnownKeys.id(ref));
  }

  /** Remembers `info`; returns the entry to keep download URLs on (a detached one when disabled). */
  remember(ref: ArtifactRef, info: ArtifactInfo): KnownKey {
    const id = KnownKeys.id(ref);
    const existing = this.lru?.get(id);
    if (existing) return existing;
    const entry: KnownKey = { info };
    this.lru?.set(id, entry);
    return entry;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
}
