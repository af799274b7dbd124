import { MultiBar, Presets } from 'cli-progress';
import type { TextSink } from '../io.js';
import { NOOP_BAR, type TransferProgress } from './progress.js';

/** Bars for transfers big enough to watch; small ones would only flicker. */
const MIN_BYTES = 256 * 1024;

export function terminalProgress(stream: TextSink): TransferProgress {
  let multi: MultiBar | undefined;
  return {
    start(label, totalBytes) {
      if (totalBytes < MIN_BYTES) return NOOP_BAR;
      multi ??= new MultiBar(
        {
          stream: stream as unknown as NodeJS.WritableStream,
          format: ' {bar} {percentage}% | {value}/{total} bytes | {label}',
          hideCursor: true,
          clearOnComplete: true,
          stopOnComplete: false,
        },
        Presets.shades_classic,
      );
      const bar = multi.create(totalBytes, 0, { label });
      return {
        advance: (n) => bar.increment(n),
        stop: () => multi?.remove(bar),
      };
    },
    close() {
      multi?.stop();
    },
  };
}
