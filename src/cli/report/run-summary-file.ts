import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { TaskGraph } from '../graph/task-graph.js';
import type { TaskKey } from '../hashing/task-key.js';
import type { EnvMode } from '../run/task-env.js';
import type { PipelineOutcome } from '../run/run-pipeline.js';
import type { RunSummary, TaskResult } from '../run/summary.js';
import { RUN_SUMMARY_VERSION, type RunSummaryFile, type SummaryTask } from './run-summary-schema.js';

/** Where run summaries go, relative to the repository root. */
export const RUNS_DIR = posix.join('.velocity', 'runs');

/** A run id that sorts by start time: `20250102T030405678Z-1a2b3c4d`. */
export function newRunId(startMs: number): string {
  return `${new Date(startMs).toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
}

/** The command line as a shell would take it back (arguments quoted when they need it). */
export function commandLine(argv: readonly string[]): string {
  const quote = (a: string): string => (/^[\w@%+=:,./^-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['velocity', ...argv.map(quote)].join(' ');
}

export interface SummaryInput {
  id: string;
  argv: readonly string[];
  velocityVersion: string;
  requested: readonly string[];
  start: number;
  end: number;
  envMode: EnvMode;
  force: boolean;
  continueOnError: boolean;
  filters: readonly string[];
  affected: boolean;
  packages: readonly string[];
  graph: TaskGraph;
  keys: ReadonlyMap<string, TaskKey>;
  outcome: PipelineOutcome;
  summary: RunSummary;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

function cacheOf(r: TaskResult, force: boolean): SummaryTask['cache'] {
  switch (r.status) {
    case 'hit-local':
      return { status: 'HIT', source: 'LOCAL', timeSavedMs: r.savedMs };
    case 'hit-remote':
      return { status: 'HIT', source: 'REMOTE', timeSavedMs: r.savedMs };
    case 'miss':
    case 'failed':
      return { status: force ? 'BYPASS' : 'MISS', source: null, timeSavedMs: 0 };
    case 'not-run':
      return null;
  }
}

const executionStatus = (r: TaskResult): SummaryTask['execution']['status'] =>
  r.status === 'failed' ? 'failed' : r.status === 'not-run' ? 'not-run' : 'succeeded';

/** The run summary of docs/cli.md ("Run summaries"), from what the run produced. */
export function buildRunSummary(input: SummaryInput): RunSummaryFile {
  const dependents = new Map<string, string[]>();
  for (const node of input.graph.nodes.values()) {
    for (const d of node.deps) dependents.set(d, [...(dependents.get(d) ?? []), node.id]);
  }
  const tasks = input.outcome.results.map((r): SummaryTask => {
    const node = input.graph.nodes.get(r.id);
    const material = input.keys.get(r.id)?.material;
    const time = input.outcome.times.get(r.id);
    return {
      id: r.id,
      package: r.package,
      task: r.task,
      directory: node?.pkg.relDir ?? '.',
      command: node?.config.command ?? '',
      hash: r.key,
      cache: cacheOf(r, input.force),
      execution: { status: executionStatus(r), start: iso(time?.start), end: iso(time?.end), durationMs: r.durationMs, exitCode: r.exitCode },
      outputs: [...(node?.config.outputs ?? [])],
      dependencies: [...(node?.deps ?? [])],
      dependents: (dependents.get(r.id) ?? []).sort(),
      env: (material?.env ?? []).map(([name]) => name),
      upload: r.upload,
    };
  });
  const s = input.summary;
  return {
    version: RUN_SUMMARY_VERSION,
    id: input.id,
    velocityVersion: input.velocityVersion,
    command: commandLine(input.argv),
    requested: [...input.requested],
    start: new Date(input.start).toISOString(),
    end: new Date(input.end).toISOString(),
    durationMs: input.end - input.start,
    exitCode: s.exitCode,
    success: s.success,
    envMode: input.envMode,
    force: input.force,
    continue: input.continueOnError,
    packages: [...input.packages].sort(),
    filters: [...input.filters],
    affected: input.affected,
    remote: s.remote,
    counts: s.counts,
    tasks,
  };
}

/** Writes the summary atomically; answers its path relative to the root. */
export async function writeRunSummary(root: string, summary: RunSummaryFile): Promise<string> {
  const dir = join(root, RUNS_DIR);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${summary.id}.json`);
  const temp = `${file}.tmp`;
  await writeFile(temp, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(temp, file);
  return posix.join(RUNS_DIR, `${summary.id}.json`);
}
