/** A queue call that did not answer in time. */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * Settles with `work`, or rejects with a DeadlineError after `ms` (or when `signal` aborts). The
 * work itself goes on (a Redis call cannot be taken back); its late failure is swallowed here so
 * it never surfaces as an unhandled rejection. Used where a backend may never answer: BullMQ waits
 * for a connection that is not ready, however the client itself is configured.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    const onAbort = () => fail(new DeadlineError(what, ms));
    const timer = setTimeout(onAbort, ms);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => fail(err instanceof Error ? err : new Error(String(err))),
    );
  });
}
