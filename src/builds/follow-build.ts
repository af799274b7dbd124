import type { BuildEvent, BuildQueue, BuildSnapshot } from './build-queue.js';
import { LIVE_STATES } from './build-queue.js';

export interface FollowOptions {
  readonly signal: AbortSignal;
  /** Called for every event, including the initial snapshot. */
  readonly onEvent?: (event: BuildEvent) => void;
  /** Milliseconds between safety-net status reads, in case an event was lost (Redis reconnect). */
  readonly pollMs?: number;
}

/**
 * Follows a build until it finishes: resolves with the final snapshot, or null when the build is
 * unknown. Rejects with the signal's reason when the caller stops waiting. Events are the fast path;
 * a slow poll makes sure a lost event cannot leave a waiter hanging.
 */
export function followBuild(queue: BuildQueue, id: string, opts: FollowOptions): Promise<BuildSnapshot | null> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let unsubscribe: (() => void) | undefined;
    let lastState: string | undefined;
    const poll = setInterval(() => void read(), opts.pollMs ?? 2000);

    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      opts.signal.removeEventListener('abort', onAbort);
      unsubscribe?.();
      fn();
    };
    const onAbort = () =>
      finish(() => reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error('stopped waiting', { cause: opts.signal.reason })));
    const onSnapshot = (snapshot: BuildSnapshot) => {
      if (settled) return;
      if (snapshot.state !== lastState) {
        lastState = snapshot.state;
        opts.onEvent?.({ type: 'state', snapshot });
      }
      if (!LIVE_STATES.has(snapshot.state)) finish(() => resolve(snapshot));
    };
    const read = async () => {
      try {
        const snapshot = await queue.get(id);
        if (snapshot === null) finish(() => resolve(null));
        else onSnapshot(snapshot);
      } catch {
        // The next poll tries again; the caller's own deadline bounds the wait.
      }
    };

    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    queue
      .subscribe(id, (event) => {
        if (event.type === 'state') onSnapshot(event.snapshot);
        else if (!settled) opts.onEvent?.(event);
      })
      .then((off) => {
        if (settled) off();
        else unsubscribe = off;
        // Read after subscribing: nothing that happens in between is missed.
        return read();
      })
      .catch((err: unknown) => finish(() => reject(err instanceof Error ? err : new Error(String(err)))));
  });
}
