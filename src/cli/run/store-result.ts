import type { Digests } from '../archive/digest.js';
import { expandOutputs } from '../archive/output-files.js';
import { packTaskArchive, type TaskMeta } from '../archive/task-archive.js';
import type { LocalCache } from '../cache/local-cache.js';
import type { TaskNode } from '../graph/task-graph.js';
import { PART_SIZE } from '../remote/protocol.js';
import type { Reporter } from '../report/reporter.js';
import { taskLabel } from './restore-hits.js';

/**
 * Archives a successful task's outputs and logs into the local cache under its key. A failure to
 * archive is a warning, never a failed task: the result is simply not cached.
 */
export async function archiveResult(cache: LocalCache, node: TaskNode, key: string, meta: TaskMeta, reporter: Reporter): Promise<Digests | null> {
  const temp = await cache.tempFile();
  try {
    const entries = await expandOutputs(node.pkg.dir, node.config.outputs);
    if (entries.length === 0 && node.config.outputs.length > 0) {
      reporter.warn(`${taskLabel(node)}: outputs ${node.config.outputs.join(', ')} matched no files; only the logs are cached`);
    }
    const digests = await packTaskArchive({ file: temp, pkgDir: node.pkg.dir, entries, meta, partSize: PART_SIZE });
    await cache.commit(temp, key);
    return digests;
  } catch (err) {
    await cache.discard(temp);
    reporter.warn(`${taskLabel(node)}: could not archive the outputs, not cached: ${(err as Error).message}`);
    return null;
  }
}
