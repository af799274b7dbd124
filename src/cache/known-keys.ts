import { LRUCache } from 'lru-cache';
import type { ArtifactInfo, ArtifactRef, PresignedRequest } from '../storage/driver.js';

interface Entry {
  readonly info: ArtifactInfo;
  download?: PresignedRequest;
}

/**
 * L1: keys known to exist, with their metadata and the last download URL handed out. Artifacts are
 * immutable once written, so a positive entry can never go stale; only absence is never cached.
 * Bounded by entry count (LRU).
 */
export class KnownKeys {
  private readonly lru: LRUCache<string, Entry> | undefined;

  constructor(max: number) {
    this.lru = max > 0 ? new LRUCache<string, Entry>({ max }) : undefined;
  }

  private static id(ref: ArtifactRef): string {
    return `${ref.namespace}/${ref.hash}`;
  }

  get(ref: ArtifactRef): ArtifactInfo | undefined {
    return this.lru?.get(KnownKeys.id(ref))?.info;
  }

  remember(ref: ArtifactRef, info: ArtifactInfo): void {
    const id = KnownKeys.id(ref);
    if (this.lru && !this.lru.has(id)) this.lru.set(id, { info });
  }

  /**
   * A download URL for `ref` that is still valid for at least `minRemainingMs`, or undefined.
   * Reusing one URL for the first half of its life saves a signature per hit.
   */
  cachedDownload(ref: ArtifactRef, now: number, minRemainingMs: number): PresignedRequest | undefined {
    const d = this.lru?.get(KnownKeys.id(ref))?.download;
    return d && d.expiresAt.getTime() - now >= minRemainingMs ? d : undefined;
  }

  rememberDownload(ref: ArtifactRef, download: PresignedRequest): void {
    const e = this.lru?.get(KnownKeys.id(ref));
    if (e) e.download = download;
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
}
