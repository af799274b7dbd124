import { LRUCache } from 'lru-cache';
import type { ArtifactRef } from '../storage/driver.js';
import { describeRef } from '../storage/object-keys.js';

/**
 * Keys a download negotiation found missing a short while ago. A CI client asks to download a key
 * before it builds and uploads it; this spares the upload negotiation that follows a second store
 * HEAD that would only repeat the first answer. The first upload offer takes the entry (`take`),
 * so any later upload of the key is checked against the store again.
 *
 * It is never used to answer a download (another replica may have stored the key since), and it
 * never decides anything: the upload URL still carries `If-None-Match: *`, so if someone stored
 * the key in between, the store refuses the second writer (412) and the client counts it as
 * skipped. Bounded by entry count and by age.
 */
export class RecentMisses {
  private readonly lru: LRUCache<string, true> | undefined;

  constructor(max: number, ttlSeconds: number, now?: () => number) {
    this.lru =
      max > 0 && ttlSeconds > 0
        ? new LRUCache<string, true>({ max, ttl: ttlSeconds * 1000, ...(now ? { perf: { now } } : {}) })
        : undefined;
  }

  private static id(ref: ArtifactRef): string {
    return describeRef(ref);
  }

  note(ref: ArtifactRef): void {
    this.lru?.set(RecentMisses.id(ref), true);
  }

  /** True (once) if `ref` was noted and has not outlived the TTL. */
  take(ref: ArtifactRef): boolean {
    if (!this.lru) return false;
    const id = RecentMisses.id(ref);
    const fresh = this.lru.get(id) === true;
    if (fresh) this.lru.delete(id);
    return fresh;
  }
}
