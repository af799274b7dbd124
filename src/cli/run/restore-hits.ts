import { BUFFERED_ARCHIVE_MAX, unpackTaskArchive, type TaskMeta } from '../archive/task-archive.js';
import type { LocalCache } from '../cache/local-cache.js';
import { ArtifactIntegrityError } from '../errors.js';
import type { TaskGraph, TaskNode } from '../graph/task-graph.js';
import type { FoundAnswer } from '../remote/protocol.js';
import type { RemoteCache } from '../remote/remote-cache.js';
import type { Reporter } from '../report/reporter.js';
import type { Timings } from '../report/timings.js';
import { Semaphore } from './semaphore.js';

export interface Restored {
  meta: TaskMeta;
  source: 'hit-local' | 'hit-remote';
  /** When the restore of the outputs began and ended (the task's time in a run summary). */
  startedAt: number;
  endedAt: number;
}

export interface RestoreDeps {
  local: LocalCache;
  remote: RemoteCache | null;
  reporter: Reporter;
  now: () => number;
  /** Downloads and uploads at once (shared with the uploads of the run). */
  transfers: Semaphore;
  timings?: Timings | undefined;
}

/** Restores at once: each writes its files in parallel, so this bounds open files too. */
const RESTORE_CONCURRENCY = 16;

export const taskLabel = (node: TaskNode): string => `${node.pkg.name}:${node.task}`;

/**
 * Hits restored ahead of time: local ones at once, remote ones as soon as one batch negotiation
 * (for every task not in the local cache) finds them and their download lands. Only the
 * reporting waits for dependencies, so logs still replay in dependency order.
 */
export class HitRestorer {
  readonly #deps: RestoreDeps;
  readonly #restores = new Semaphore(RESTORE_CONCURRENCY);
  readonly #early = new Map<string, Promise<Restored | null>>();
  #pending = 0;

  constructor(deps: RestoreDeps) {
    this.#deps = deps;
  }

  /** Starts every restore the caches allow; resolves once the remote has answered its lookup. */
  async prefetch(graph: TaskGraph, keyOf: (id: string) => string): Promise<void> {
    const { local, remote } = this.#deps;
    const wanted: string[] = [];
    for (const id of graph.order) {
      const node = graph.nodes.get(id) as TaskNode;
      const key = keyOf(id);
      if (local.has(key)) this.#ahead(id, this.#restores.use(() => this.#restoreFrom(node, key, 'hit-local', local.pathOf(key))));
      else wanted.push(id);
    }
    if (!remote || wanted.length === 0) return;
    const found = await remote.lookup(wanted.map(keyOf));
    this.#deps.timings?.mark('remote lookup answered');
    for (const id of wanted) {
      const answer = found.get(keyOf(id));
      if (answer) this.#ahead(id, this.#fetchAndRestore(remote, graph.nodes.get(id) as TaskNode, keyOf(id), answer));
    }
  }

  /** The task's restored hit, `null` when the cache could not give one, `undefined` if never asked. */
  get(id: string): Promise<Restored | null> | undefined {
    return this.#early.get(id);
  }

  /** Waits for every restore, whatever became of it (none may be left writing when a run ends). */
  async settled(): Promise<void> {
    await Promise.all([...this.#early.values()].map((p) => p.catch(() => null)));
  }

  #ahead(id: string, p: Promise<Restored | null>): void {
    this.#pending++;
    void p
      .finally(() => {
        if (--this.#pending === 0) this.#deps.timings?.mark('every hit restored');
      })
      .catch(() => undefined);
    // Awaited later, in dependency order: marked handled now so an early failure is not an
    // unhandled rejection before its task's turn comes.
    p.catch(() => undefined);
    this.#early.set(id, p);
  }

  /**
   * A remote hit. Small artifacts (nearly all) are downloaded into memory and verified, then the
   * outputs are restored from those bytes while the same bytes go to the local cache: no second
   * read of a file just written. Big ones are streamed to the local cache and restored from it.
   */
  async #fetchAndRestore(from: RemoteCache, node: TaskNode, key: string, answer: FoundAnswer): Promise<Restored | null> {
    const { local, transfers } = this.#deps;
    if (answer.size > BUFFERED_ARCHIVE_MAX) {
      const ok = await transfers.use(() => fetchInto(local, from, taskLabel(node), key, answer));
      return ok ? this.#restores.use(() => this.#restoreFrom(node, key, 'hit-remote', local.pathOf(key))) : null;
    }
    const bytes = await transfers.use(() => from.fetchBytes(taskLabel(node), answer));
    if (!bytes) return null;
    const [restored] = await Promise.all([this.#restores.use(() => this.#restoreFrom(node, key, 'hit-remote', bytes)), local.store(key, bytes)]);
    if (!restored) await local.discard(key);
    return restored;
  }

  async #restoreFrom(node: TaskNode, key: string, source: Restored['source'], archive: string | Buffer): Promise<Restored | null> {
    const startedAt = this.#deps.now();
    try {
      const meta = await unpackTaskArchive(archive, node.pkg.dir, node.config.outputs);
      return { meta, source, startedAt, endedAt: this.#deps.now() };
    } catch (err) {
      if (!(err instanceof ArtifactIntegrityError)) throw err;
      this.#deps.reporter.warn(`${taskLabel(node)}: cached archive is unusable (${err.message}); running the task instead`);
      if (typeof archive === 'string') await this.#deps.local.discard(key);
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
