import { z } from 'zod';

/**
 * `velocity run --summarize` writes one file per run, `.velocity/runs/<id>.json`, of this shape
 * (documented in docs/cli.md, "Run summaries"). `version` changes only when a field changes
 * meaning or goes away; new fields may appear within a version, so readers must ignore unknown
 * keys (this schema does: it is not strict).
 */
export const RUN_SUMMARY_VERSION = 1;

/** `20250102T030405678Z-1a2b3c4d`: sorts by start time, safe as a file name. */
export const RUN_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

const isoTime = z.iso.datetime();
const taskId = z.string().regex(/^.+#.+$/, 'package#task');

export const cacheStatusSchema = z.enum(['HIT', 'MISS', 'BYPASS']);

export const summaryTaskSchema = z.object({
  /** `package#task`. */
  id: taskId,
  package: z.string().min(1),
  task: z.string().min(1),
  /** Package folder relative to the repository root, POSIX. */
  directory: z.string().min(1),
  command: z.string(),
  /** The task's key: SHA-256 of everything that went into it (docs/cli.md, "Keys"). */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  /** `null` for a task that never reached the cache (not run: a dependency failed, or the run stopped). */
  cache: z
    .object({
      status: cacheStatusSchema,
      /** Where a hit came from; `null` for MISS and BYPASS. */
      source: z.enum(['LOCAL', 'REMOTE']).nullable(),
      /** A hit: how long the command took when it ran. */
      timeSavedMs: z.number().nonnegative(),
    })
    .nullable(),
  execution: z.object({
    status: z.enum(['succeeded', 'failed', 'not-run']),
    /** Restore times for hits; `null` when not run. */
    start: isoTime.nullable(),
    end: isoTime.nullable(),
    durationMs: z.number().nonnegative(),
    exitCode: z.number().int().nullable(),
  }),
  /** The task's `outputs` globs as declared. */
  outputs: z.array(z.string()),
  /** Ids of the tasks this one waited for, and of those that waited for it (within this run). */
  dependencies: z.array(taskId),
  dependents: z.array(taskId),
  /** Names of the variables whose values entered the key (never the values). */
  env: z.array(z.string()),
  upload: z.enum(['uploaded', 'skipped', 'unavailable', 'off']).nullable(),
});

export const runSummarySchema = z.object({
  version: z.literal(RUN_SUMMARY_VERSION),
  id: z.string().regex(RUN_ID),
  velocityVersion: z.string(),
  /** The command line as typed, `velocity` first. */
  command: z.string().startsWith('velocity '),
  /** The task names asked for (`build`, `test`). */
  requested: z.array(z.string()),
  start: isoTime,
  end: isoTime,
  durationMs: z.number().nonnegative(),
  exitCode: z.number().int().nonnegative(),
  success: z.boolean(),
  envMode: z.enum(['strict', 'loose']),
  force: z.boolean(),
  continue: z.boolean(),
  /** The packages whose tasks were asked for (after --filter and --affected), sorted. */
  packages: z.array(z.string()),
  filters: z.array(z.string()),
  affected: z.boolean(),
  remote: z.object({ enabled: z.boolean(), problem: z.string().nullable() }),
  counts: z.object({
    tasks: z.number().int().nonnegative(),
    hitsLocal: z.number().int().nonnegative(),
    hitsRemote: z.number().int().nonnegative(),
    misses: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    notRun: z.number().int().nonnegative(),
  }),
  /** Every task of the run, dependencies first. */
  tasks: z.array(summaryTaskSchema),
});

export type RunSummaryFile = z.infer<typeof runSummarySchema>;
export type SummaryTask = z.infer<typeof summaryTaskSchema>;
