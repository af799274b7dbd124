import type { TextSink } from '../io.js';

/** Phase marks for finding where a run's time goes; `VELOCITY_DEBUG_TIMING=1` prints them. */
export interface Timings {
  mark(phase: string): void;
  /** Writes every mark (ms since the process started, and since the previous mark). */
  flush(sink: TextSink): void;
}

const off: Timings = { mark: () => undefined, flush: () => undefined };

/**
 * Marks use performance.now(), whose origin is the process start, so the first mark also shows
 * what Node start-up and module loading cost before any of our code ran.
 */
export function createTimings(env: Readonly<Record<string, string | undefined>>): Timings {
  const flag = env.VELOCITY_DEBUG_TIMING;
  if (flag === undefined || flag === '' || flag === '0' || flag === 'false') return off;
  const marks: Array<[string, number]> = [];
  return {
    mark: (phase) => marks.push([phase, performance.now()]),
    flush: (sink) => {
      let previous = 0;
      for (const [phase, at] of marks) {
        sink.write(`velocity: timing: ${at.toFixed(1).padStart(8)} ms  +${(at - previous).toFixed(1).padStart(7)} ms  ${phase}\n`);
        previous = at;
      }
      marks.length = 0;
    },
  };
}
