import { LRUCache } from 'lru-cache';
import type { ArtifactHandle, ArtifactInfo, ArtifactRef, PresignFacet, PresignedRequest } from '../storage/driver.js';
import { describeRef } from '../storage/object-keys.js';

export interface KnownKey {
  readonly handle: ArtifactHandle;
  readonly info: ArtifactInfo;
  /** Epoch ms the store last said this key exists: the entry is trusted until `checkedAt + ttl`. */
  readonly checkedAt: number;
  /** The last download URL handed out for this key, with its expiry pre-formatted. */
  download?: { readonly request: PresignedRequest; readonly expiresAtIso: string };
}

export interface KnownKeysOptions {
  readonly max: number;
  /** Milliseconds an entry is trusted before the store is asked again (VC_KNOWN_KEYS_TTL). */
  readonly ttlMs: number;
  readonly now?: () => number;
}

/**
 * L1: keys known to exist, with what `head()` returned and the last download URL handed out.
 * Artifacts are immutable while they exist, but eviction and purges delete them: an entry is
 * trusted for `ttlMs` after the store last confirmed it, then dropped, so no replica hands out a
 * URL to a deleted artifact for longer than that (the replica that deletes forgets at once).
 * Absence is never cached here. Bounded by entry count (LRU).
 */
export class KnownKeys {
  private readonly lru: LRUCache<string, KnownKey> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: KnownKeysOptions) {
    this.lru = opts.max > 0 ? new LRUCache<string, KnownKey>({ max: opts.max }) : undefined;
    this.now = opts.now ?? Date.now;
  }

  private static id(ref: ArtifactRef): string {
    return describeRef(ref);
  }

  get(ref: ArtifactRef): ArtifactInfo | undefined {
    return this.entry(ref)?.info;
  }

  /** The whole entry (handle, info and last download URL) in one lookup: the hit path. */
  entry(ref: ArtifactRef): KnownKey | undefined {
    if (!this.lru) return undefined;
    const id = KnownKeys.id(ref);
    const entry = this.lru.get(id);
    if (entry && this.now() - entry.checkedAt >= this.opts.ttlMs) {
      this.lru.delete(id);
      return undefined;
    }
    return entry;
  }

  /** Remembers what `head()` found; returns the entry to keep download URLs on (a detached one when disabled). */
  remember(handle: ArtifactHandle): KnownKey {
    const existing = this.entry(handle.ref);
    if (existing) return existing;
    const entry: KnownKey = { handle, info: handle.info, checkedAt: this.now() };
    this.lru?.set(KnownKeys.id(handle.ref), entry);
    return entry;
  }

  /**
   * What is stored for `ref`: the entry when the key is known, else what `head` finds in the store
   * (remembered); `null` when nothing is there. Store errors propagate: never a miss.
   */
  async lookup(ref: ArtifactRef, head: (ref: ArtifactRef) => Promise<ArtifactHandle | null>): Promise<KnownKey | null> {
    const known = this.entry(ref);
    if (known) return known;
    const stored = await head(ref);
    return stored ? this.remember(stored) : null;
  }

  /**
   * The last download URL handed out for the entry, while it is in the first half of its life (a
   * signature saved per hit, and every client still gets at least half the TTL). Synchronous: the
   * hit path awaits nothing when it is there.
   */
  cachedDownload(entry: KnownKey, ttlSeconds: number): KnownKey['download'] {
    const current = entry.download;
    return current && current.request.expiresAt.getTime() - this.now() >= (ttlSeconds * 1000) / 2 ? current : undefined;
  }

  /** `cachedDownload`, else a new URL, kept on the entry for the next hits. */
  async downloadUrl(entry: KnownKey, presign: PresignFacet, ttlSeconds: number, signal?: AbortSignal): Promise<NonNullable<KnownKey['download']>> {
    const current = this.cachedDownload(entry, ttlSeconds);
    if (current) return current;
    const request = await presign.download(entry.handle, ttlSeconds, signal);
    return (entry.download = { request, expiresAtIso: request.expiresAt.toISOString() });
  }

  /** The key was deleted here (eviction, purge): stop answering `found` for it at once. */
  forget(ref: ArtifactRef): void {
    this.lru?.delete(KnownKeys.id(ref));
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
}
