export interface ProgressBar {
  advance(bytes: number): void;
  stop(): void;
}

/** Transfer progress: bars on a terminal, nothing at all in CI logs and pipes. */
export interface TransferProgress {
  start(label: string, totalBytes: number): ProgressBar;
  close(): void;
}

export const NOOP_BAR: ProgressBar = { advance: () => undefined, stop: () => undefined };

export const noProgress: TransferProgress = { start: () => NOOP_BAR, close: () => undefined };

