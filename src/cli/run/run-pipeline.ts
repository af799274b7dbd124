import { ARCHIVE_FORMAT, type TaskMeta } from '../archive/task-archive.js';
import type { LocalCache } from '../cache/local-cache.js';
import type { TaskGraph, TaskNode } from '../graph/task-graph.js';
import type { TaskKey } from '../hashing/task-key.js';
import type { RemoteCache } from '../remote/remote-cache.js';
import type { Reporter } from '../report/reporter.js';
import type { TaskLogs } from '../report/task-log.js';
import type { Timings } from '../report/timings.js';
import { HitRestorer, taskLabel, type Restored } from './restore-hits.js';
import { Semaphore } from './semaphore.js';
import { archiveResult } from './store-result.js';
import type { TaskResult } from './summary.js';

export interface PipelineDeps {
  root: string;
  /** The environment a task's command gets (task-env.ts): never more than its key covers, in strict mode. */
  envOf: (node: TaskNode) => Record<string, string>;
  now: () => number;
  reporter: Reporter;
  /** How each task's output is shown (task-log.ts). */
  logs: TaskLogs;
  local: LocalCache;
  remote: RemoteCache | null;
  timings?: Timings | undefined;
}

export interface PipelineOptions {
  concurrency: number;
  /** Run every task, cached or not (`--force`: a cache bypass; results are still stored). */
  force: boolean;
  /** After a failure, keep running what does not depend on it (`--continue`). */
  continueOnError: boolean;
}

/** When a task started and ended (restore times for hits); absent for tasks not run. */
export interface TaskTime {
  start: number;
  end: number;
}

export interface PipelineOutcome {
  /** Every task of the graph, in graph order. */
  results: TaskResult[];
  /** The first task to fail, in time: the run exits with its code. */
  firstFailure: TaskResult | null;
  times: ReadonlyMap<string, TaskTime>;
}

/** Downloads and uploads run side by side with commands; a few at a time keeps sockets and disks sane. */
const TRANSFER_CONCURRENCY = 16;

/**
 * Runs the graph: every task after its dependencies, independent tasks in parallel. Per task:
 * local cache, then the remote (negotiated for all tasks up front in one batch and downloaded
 * ahead of time), else the command; successful runs are archived locally and uploaded in the
 * background. A failure stops new work (running tasks finish), or with `continueOnError` only
 * the tasks that depend on it.
 */
export function runPipeline(graph: TaskGraph, keys: ReadonlyMap<string, TaskKey>, deps: PipelineDeps, opts: PipelineOptions): Promise<PipelineOutcome> {
  return new PipelineRun(graph, keys, deps, opts).run();
}

class PipelineRun {
  readonly #graph: TaskGraph;
  readonly #keys: ReadonlyMap<string, TaskKey>;
  readonly #deps: PipelineDeps;
  readonly #opts: PipelineOptions;
  readonly #slots: Semaphore;
  readonly #transfers = new Semaphore(TRANSFER_CONCURRENCY);
  readonly #hits: HitRestorer;
  readonly #results = new Map<string, TaskResult>();
  readonly #times = new Map<string, TaskTime>();
  readonly #uploads: Array<Promise<void>> = [];
  #firstFailure: TaskResult | null = null;
  /** Set by the first failure unless continuing: nothing new starts. */
  #stopped = false;

  constructor(graph: TaskGraph, keys: ReadonlyMap<string, TaskKey>, deps: PipelineDeps, opts: PipelineOptions) {
    this.#graph = graph;
    this.#keys = keys;
    this.#deps = deps;
    this.#opts = opts;
    this.#slots = new Semaphore(opts.concurrency);
    this.#hits = new HitRestorer({ local: deps.local, remote: deps.remote, reporter: deps.reporter, now: deps.now, transfers: this.#transfers, timings: deps.timings });
  }

  #keyOf = (id: string): string => (this.#keys.get(id) as TaskKey).key;

  async run(): Promise<PipelineOutcome> {
    if (!this.#opts.force) await this.#hits.prefetch(this.#graph, this.#keyOf);
    const done = new Map<string, Promise<void>>();
    for (const id of this.#graph.order) {
      const node = this.#graph.nodes.get(id) as TaskNode;
      const p = Promise.all(node.deps.map((d) => done.get(d) as Promise<void>)).then(() => this.#task(node));
      p.catch(() => undefined);
      done.set(id, p);
    }
    await Promise.all(done.values());
    this.#deps.timings?.mark('every task done');
    await Promise.all(this.#uploads);
    await this.#hits.settled();
    return {
      results: this.#graph.order.map((id) => this.#results.get(id) as TaskResult),
      firstFailure: this.#firstFailure,
      times: this.#times,
    };
  }

  /** One task, once its dependencies are settled. */
  async #task(node: TaskNode): Promise<void> {
    const key = this.#keyOf(node.id);
    const blocked = node.deps.some((d) => {
      const status = this.#results.get(d)?.status;
      return status === 'failed' || status === 'not-run';
    });
    if (blocked || this.#stopped) return this.#notRun(node, key);
    const hit = await this.#hits.get(node.id);
    if (hit) return this.#replay(node, key, hit);
    if (this.#stopped) return this.#notRun(node, key);
    await this.#slots.use(() => (this.#stopped ? Promise.resolve(this.#notRun(node, key)) : this.#runCommand(node, key)));
  }

  #notRun(node: TaskNode, key: string): void {
    this.#results.set(node.id, result(node, key, 'not-run', null, 0, 0, null));
  }

  #replay(node: TaskNode, key: string, hit: Restored): void {
    this.#deps.logs.for(taskLabel(node), node.pkg.name).hit(hit.source === 'hit-local' ? 'local' : 'remote', key, hit.meta.logs);
    this.#results.set(node.id, result(node, key, hit.source, hit.meta.exitCode, hit.endedAt - hit.startedAt, hit.meta.durationMs, null));
    this.#times.set(node.id, { start: hit.startedAt, end: hit.endedAt });
  }

  async #runCommand(node: TaskNode, key: string): Promise<void> {
    const { now, local, remote, reporter } = this.#deps;
    const log = this.#deps.logs.for(taskLabel(node), node.pkg.name);
    log.start(key, node.config.command, this.#opts.force);
    const start = now();
    // Loaded on the first miss: a run of hits never spawns anything.
    const { execTask } = await import('./exec-task.js');
    const run = await execTask({
      command: node.config.command,
      cwd: node.pkg.dir,
      root: this.#deps.root,
      env: this.#deps.envOf(node),
      now,
      onOutput: (stream, text) => log.output(stream, text),
    });
    if (run.exitCode !== 0) {
      // Failed tasks are never cached.
      log.failed(run.exitCode);
      if (!this.#opts.continueOnError) this.#stopped = true;
      const failed = result(node, key, 'failed', run.exitCode, run.durationMs, 0, null);
      this.#firstFailure ??= failed;
      this.#results.set(node.id, failed);
      this.#times.set(node.id, { start, end: now() });
      return;
    }
    log.succeeded();
    const meta: TaskMeta = { format: ARCHIVE_FORMAT, task: node.id, key, exitCode: 0, durationMs: run.durationMs, logs: run.logs };
    const archived = await archiveResult(local, node, key, meta, reporter);
    const entry = result(node, key, 'miss', 0, run.durationMs, 0, remote ? null : 'off');
    this.#results.set(node.id, entry);
    this.#times.set(node.id, { start, end: now() });
    if (remote && archived) {
      this.#uploads.push(
        this.#transfers.use(async () => {
          entry.upload = await remote.upload(taskLabel(node), key, local.pathOf(key), archived);
        }),
      );
    }
  }
}

function result(
  node: TaskNode,
  key: string,
  status: TaskResult['status'],
  exitCode: number | null,
  durationMs: number,
  savedMs: number,
  upload: TaskResult['upload'],
): TaskResult {
  return { id: node.id, package: node.pkg.name, task: node.task, key, status, exitCode, durationMs, savedMs, upload };
}
