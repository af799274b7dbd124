/** A held lease: renew it while working, release it when done (compare-and-delete by token). */
export interface LeaseHandle {
  readonly token: string;
  /** True while this holder still holds it (the lease is extended by its TTL from now). */
  renew(signal?: AbortSignal): Promise<boolean>;
  /** Gives the lease up, only if this holder still holds it. */
  release(signal?: AbortSignal): Promise<void>;
}

/**
 * One holder at a time, with an expiry: a holder that dies stops renewing, its lease lapses after
 * the TTL, and another replica takes over. Expiry is judged by the injected clock of whoever asks
 * (replica clocks are assumed to agree within a small fraction of the TTL, as NTP keeps them).
 */
export interface LeaseProvider {
  readonly kind: 'redis' | 'store';
  /** `null` when another holder's lease has not expired. */
  tryAcquire(name: string, ttlMs: number, signal?: AbortSignal): Promise<LeaseHandle | null>;
}
