import { BuildFailure } from './build-failure.js';

/**
 * The abort reason of a build stopped because its worker is stopping (SIGTERM past the shutdown
 * grace). The consumer puts such a build back in the queue at once rather than counting a failed
 * attempt: it was never the build's fault. Retryable, so it is counted as `retry`.
 */
export function handBackReason(): BuildFailure {
  return new BuildFailure('build handed back to the queue: its worker is stopping', { code: 'builder_unavailable', retryable: true });
}

/**
 * Waits for `closing` (a consumer's drain) up to `graceMs`; past it, calls `handBack` once (which
 * aborts the running builds) and waits for them to wind down.
 */
export async function drainWithin(closing: Promise<void>, graceMs: number | undefined, handBack: () => void): Promise<void> {
  if (graceMs === undefined) {
    await closing;
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  try {
    if ((await Promise.race([closing, deadline])) === 'late') {
      handBack();
      await closing;
    }
  } finally {
    clearTimeout(timer);
  }
}
