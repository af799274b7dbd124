import type { Digests } from '../archive/digest.js';
import { expandOutputs } from '../archive/output-files.js';
import { ARCHIVE_FORMAT, BUFFERED_ARCHIVE_MAX, packTaskArchive, unpackTaskArchive, type TaskMeta } from '../archive/task-archive.js';
import type { LocalCache } from '../cache/local-cache.js';
import { ArtifactIntegrityError } from '../errors.js';
import type { TaskGraph, TaskNode } from '../graph/task-graph.js';
import type { TaskKey } from '../hashing/task-key.js';
import type { RemoteCache } from '../remote/remote-cache.js';
import { PART_SIZE, type FoundAnswer } from '../remote/protocol.js';
import type { Reporter } from '../report/reporter.js';
import type { Timings } from '../report/timings.js';
import { Semaphore } from './semaphore.js';
import type { TaskResult } from './summary.js';

export interface PipelineDeps {
  root: string;
  /** The environment a task's command gets (task-env.ts): never more than its key covers, in strict mode. */
  envOf: (node: TaskNode) => Record<string, string>;
  now: () => number;
  reporter: Reporter;
  local: LocalCache;
  remote: RemoteCache | null;
  timings?: Timings;
}

interface Restored {
  meta: TaskMeta;
  source: 'hit-local' | 'hit-remote';
  ms: number;
}

export interface PipelineOptions {
  concurrency: number;
  force: boolean;
}

/** Downloads run side by side with commands; a few at a time keeps sockets and disks sane. */
const TRANSFER_CONCURRENCY = 16;
/** Restores at once: each writes its files in parallel, so this bounds open files too. */
const RESTORE_CONCURRENCY = 16;

const label = (node: TaskNode): string => `${node.pkg.name}:${node.task}`;

/**
 * Runs the graph: every task after its dependencies, independent tasks in parallel. Per task:
 * local cache, then the remote (negotiated for all tasks up front in one batch and downloaded
 * ahead of time), else the command; successful runs are archived locally and uploaded in the
 * background. The first failure stops new work; running tasks finish.
 */
export async function runPipeline(
  graph: TaskGraph,
  keys: ReadonlyMap<string, TaskKey>,
  deps: PipelineDeps,
  opts: PipelineOptions,
): Promise<TaskResult[]> {
  const { reporter, local, remote } = deps;
  const slots = new Semaphore(opts.concurrency);
  const transfers = new Semaphore(TRANSFER_CONCURRENCY);
  const restores = new Semaphore(RESTORE_CONCURRENCY);
  const keyOf = (id: string): string => (keys.get(id) as TaskKey).key;
  const results = new Map<string, TaskResult>();
  const uploads: Array<Promise<void>> = [];
  let stopped = false;

  // Hits are restored ahead of time: local ones at once, remote ones as soon as one batch
  // negotiation (for every task not in the local cache) finds them and their download lands.
  // Only the reporting waits for dependencies, so logs still replay in dependency order.
  const early = new Map<string, Promise<Restored | null>>();
  let pendingAhead = 0;
  const ahead = (id: string, p: Promise<Restored | null>): void => {
    pendingAhead++;
    void p.finally(() => {
      if (--pendingAhead === 0) deps.timings?.mark('every hit restored');
    }).catch(() => undefined);
    // Awaited later, in dependency order: marked handled now so an early failure is not an
    // unhandled rejection before its task's turn comes.
    p.catch(() => undefined);
    early.set(id, p);
  };
  if (!opts.force) {
    const wanted: string[] = [];
    for (const id of graph.order) {
      const node = graph.nodes.get(id) as TaskNode;
      if (local.has(keyOf(id))) ahead(id, restores.use(() => restoreFrom(node, keyOf(id), 'hit-local', local.pathOf(keyOf(id)))));
      else wanted.push(id);
    }
    if (remote && wanted.length > 0) {
      const found = await remote.lookup(wanted.map(keyOf));
      deps.timings?.mark('remote lookup answered');
      for (const id of wanted) {
        const answer = found.get(keyOf(id));
        if (answer) ahead(id, fetchAndRestore(remote, graph.nodes.get(id) as TaskNode, keyOf(id), answer));
      }
    }
  }

  /**
   * A remote hit. Small artifacts (nearly all) are downloaded into memory and verified, then the
   * outputs are restored from those bytes while the same bytes go to the local cache: no second
   * read of a file just written. Big ones are streamed to the local cache and restored from it.
   */
  async function fetchAndRestore(from: RemoteCache, node: TaskNode, key: string, answer: FoundAnswer): Promise<Restored | null> {
    if (answer.size > BUFFERED_ARCHIVE_MAX) {
      const ok = await transfers.use(() => fetchInto(local, from, label(node), key, answer));
      return ok ? restores.use(() => restoreFrom(node, key, 'hit-remote', local.pathOf(key))) : null;
    }
    const bytes = await transfers.use(() => from.fetchBytes(label(node), answer));
    if (!bytes) return null;
    const [restored] = await Promise.all([restores.use(() => restoreFrom(node, key, 'hit-remote', bytes)), local.store(key, bytes)]);
    if (!restored) await local.discard(key);
    return restored;
  }

  async function restoreFrom(node: TaskNode, key: string, source: Restored['source'], archive: string | Buffer): Promise<Restored | null> {
    const started = deps.now();
    try {
      const meta = await unpackTaskArchive(archive, node.pkg.dir, node.config.outputs);
      return { meta, source, ms: deps.now() - started };
    } catch (err) {
      if (!(err instanceof ArtifactIntegrityError)) throw err;
      reporter.warn(`${label(node)}: cached archive is unusable (${err.message}); running the task instead`);
      if (typeof archive === 'string') await local.discard(key);
      return null;
    }
  }

  const replay = (node: TaskNode, key: string, hit: Restored): void => {
    reporter.line(`${label(node)}: cache hit (${hit.source === 'hit-local' ? 'local' : 'remote'}) ${key.slice(0, 16)}, replaying logs`);
    for (const [stream, text] of hit.meta.logs) reporter.taskOutput(label(node), stream, text);
    reporter.taskDone(label(node));
    results.set(node.id, result(node, key, hit.source, hit.meta.exitCode, hit.ms, hit.meta.durationMs, null));
  };

  const execute = async (node: TaskNode, key: string): Promise<void> => {
    const hit = await early.get(node.id);
    if (hit) {
      replay(node, key, hit);
      return;
    }
    if (stopped) {
      results.set(node.id, result(node, key, 'not-run', null, 0, 0, null));
      return;
    }
    await slots.use(async () => {
      if (stopped) {
        results.set(node.id, result(node, key, 'not-run', null, 0, 0, null));
        return;
      }
      reporter.line(`${label(node)}: cache miss ${key.slice(0, 16)}, running: ${node.config.command}`);
      // Loaded on the first miss: a run of hits never spawns anything.
      const { execTask } = await import('./exec-task.js');
      const run = await execTask({
        command: node.config.command,
        cwd: node.pkg.dir,
        root: deps.root,
        env: deps.envOf(node),
        now: deps.now,
        onOutput: (stream, text) => reporter.taskOutput(label(node), stream, text),
      });
      reporter.taskDone(label(node));
      if (run.exitCode !== 0) {
        // Failed tasks are never cached.
        stopped = true;
        reporter.line(`${label(node)}: failed with exit code ${run.exitCode}`);
        results.set(node.id, result(node, key, 'failed', run.exitCode, run.durationMs, 0, null));
        return;
      }
      const meta: TaskMeta = { format: ARCHIVE_FORMAT, task: node.id, key, exitCode: 0, durationMs: run.durationMs, logs: run.logs };
      const archived = await archive(local, node, key, meta);
      const entry = result(node, key, 'miss', 0, run.durationMs, 0, remote ? null : 'off');
      results.set(node.id, entry);
      if (remote && archived) {
        uploads.push(
          transfers.use(async () => {
            entry.upload = await remote.upload(label(node), key, local.pathOf(key), archived);
          }),
        );
      }
    });
  };

  const done = new Map<string, Promise<void>>();
  for (const id of graph.order) {
    const node = graph.nodes.get(id) as TaskNode;
    const before = node.deps.map((d) => done.get(d) as Promise<void>);
    const p = Promise.all(before).then(async () => {
      const blocked = node.deps.some((d) => results.get(d)?.status === 'failed' || results.get(d)?.status === 'not-run');
      if (blocked || stopped) {
        results.set(id, result(node, keyOf(id), 'not-run', null, 0, 0, null));
        return;
      }
      await execute(node, keyOf(id));
    });
    p.catch(() => undefined);
    done.set(id, p);
  }
  await Promise.all(done.values());
  deps.timings?.mark('every task done');
  await Promise.all(uploads);
  await Promise.all([...early.values()].map((p) => p.catch(() => null)));
  return graph.order.map((id) => results.get(id) as TaskResult);

  async function archive(cache: LocalCache, node: TaskNode, key: string, meta: TaskMeta): Promise<Digests | null> {
    const temp = await cache.tempFile();
    try {
      const entries = await expandOutputs(node.pkg.dir, node.config.outputs);
      if (entries.length === 0 && node.config.outputs.length > 0) {
        reporter.warn(`${label(node)}: outputs ${node.config.outputs.join(', ')} matched no files; only the logs are cached`);
      }
      const digests = await packTaskArchive({ file: temp, pkgDir: node.pkg.dir, entries, meta, partSize: PART_SIZE });
      await cache.commit(temp, key);
      return digests;
    } catch (err) {
      await cache.discard(temp);
      reporter.warn(`${label(node)}: could not archive the outputs, not cached: ${(err as Error).message}`);
      return null;
    }
  }
}

async function fetchInto(local: LocalCache, remote: RemoteCache, name: string, key: string, found: FoundAnswer): Promise<boolean> {
  const temp = await local.tempFile();
  const ok = await remote.download(name, found, temp).catch(() => false);
  if (!ok) {
    await local.discard(temp);
    return false;
  }
  await local.commit(temp, key);
  return true;
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
