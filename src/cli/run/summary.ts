import { formatDuration, type Reporter } from '../report/reporter.js';

export type TaskStatus = 'hit-local' | 'hit-remote' | 'miss' | 'failed' | 'not-run';

export interface TaskResult {
  id: string;
  package: string;
  task: string;
  key: string;
  status: TaskStatus;
  exitCode: number | null;
  durationMs: number;
  /** For hits: how long the command took when it ran (what the hit saved). */
  savedMs: number;
  upload: 'uploaded' | 'skipped' | 'unavailable' | 'off' | null;
}

export interface RunSummary {
  success: boolean;
  exitCode: number;
  durationMs: number;
  counts: { tasks: number; hitsLocal: number; hitsRemote: number; misses: number; failed: number; notRun: number };
  timeSavedMs: number;
  remote: { enabled: boolean; problem: string | null };
  tasks: TaskResult[];
  warnings: string[];
}

/** `firstFailure`: the task that failed first in time (its code is the run's); else the first in order. */
export function summarize(
  results: TaskResult[],
  durationMs: number,
  remote: { enabled: boolean; problem: string | null },
  warnings: string[],
  firstFailure?: TaskResult | null,
): RunSummary {
  const count = (s: TaskStatus): number => results.filter((r) => r.status === s).length;
  const failed = firstFailure ?? results.find((r) => r.status === 'failed');
  return {
    success: failed === undefined,
    exitCode: failed ? (failed.exitCode ?? 1) : 0,
    durationMs,
    counts: {
      tasks: results.length,
      hitsLocal: count('hit-local'),
      hitsRemote: count('hit-remote'),
      misses: count('miss') + count('failed'),
      failed: count('failed'),
      notRun: count('not-run'),
    },
    timeSavedMs: results.reduce((n, r) => n + r.savedMs, 0),
    remote,
    tasks: results,
    warnings,
  };
}

export function printSummary(s: RunSummary, reporter: Reporter): void {
  const c = s.counts;
  reporter.line('');
  reporter.line(` Tasks:    ${c.tasks - c.failed - c.notRun} succeeded, ${c.failed} failed${c.notRun ? `, ${c.notRun} not run` : ''}, ${c.tasks} total`);
  reporter.line(` Cached:   ${c.hitsLocal + c.hitsRemote} hits (${c.hitsLocal} local, ${c.hitsRemote} remote), ${c.misses} misses`);
  reporter.line(` Time:     ${formatDuration(s.durationMs)}${s.timeSavedMs > 0 ? ` (saved ${formatDuration(s.timeSavedMs)})` : ''}`);
  if (!s.remote.enabled) reporter.line(` Remote:   off${s.remote.problem ? ` (${s.remote.problem})` : ''}`);
  const failed = s.tasks.filter((t) => t.status === 'failed');
  for (const t of failed) reporter.line(` Failed:   ${t.id} (exit code ${t.exitCode ?? '?'})`);
}
