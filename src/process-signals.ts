import type { Logger } from 'pino';

export interface ShutdownOptions {
  /** Logged with the signal when draining starts. */
  readonly message: string;
  readonly fields?: Record<string, unknown>;
  /** A second signal while draining: by default ignored. */
  readonly onRepeat?: (signal: NodeJS.Signals) => void;
}

/**
 * SIGTERM/SIGINT: drain once, then exit 0 (1 if draining failed). Shared by the gateway and the
 * worker so both stop the same way under Kubernetes and docker compose.
 */
export function exitAfterDrain(logger: Logger, drain: () => Promise<void>, opts: ShutdownOptions): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      opts.onRepeat?.(signal);
      return;
    }
    stopping = true;
    logger.info({ signal, ...opts.fields }, opts.message);
    drain().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
