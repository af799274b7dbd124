import type { TaskGraph } from '../graph/task-graph.js';
import type { TaskKey } from '../hashing/task-key.js';
import type { TextSink } from '../io.js';
import type { Reporter } from '../report/reporter.js';

/** `--dry-run`: each task with its key and everything that went into it; nothing is run. */
export function printDryRun(
  graph: TaskGraph,
  keys: ReadonlyMap<string, TaskKey>,
  out: { json: boolean; stdout: TextSink; reporter: Reporter },
): void {
  const tasks = graph.order.map((id) => {
    const node = graph.nodes.get(id);
    const k = keys.get(id) as TaskKey;
    return { id, package: node?.pkg.name, task: node?.task, directory: node?.pkg.relDir, key: k.key, dependsOn: node?.deps ?? [], inputs: k.material };
  });
  if (out.json) {
    out.stdout.write(`${JSON.stringify({ tasks }, null, 2)}\n`);
    return;
  }
  const r = out.reporter;
  r.line(`Dry run: ${tasks.length} task${tasks.length === 1 ? '' : 's'}, in order\n`);
  for (const t of tasks) {
    const m = t.inputs;
    r.line(`${t.id}`);
    r.line(`  key         ${t.key}`);
    r.line(`  directory   ${t.directory}`);
    r.line(`  command     ${m.command}`);
    r.line(`  outputs     ${m.outputs.length > 0 ? m.outputs.join(', ') : '(none)'}`);
    r.line(`  depends on  ${m.deps.length > 0 ? m.deps.map(([id, key]) => `${id} (${key.slice(0, 12)})`).join(', ') : '(none)'}`);
    r.line(`  env mode    ${m.envMode}`);
    r.line(`  env         ${m.env.length > 0 ? m.env.map(([n, v]) => `${n}=${v === null ? '(unset)' : `sha256:${v.slice(0, 12)}`}`).join(', ') : '(none)'}`);
    r.line(`  lockfiles   ${m.lockfiles.length > 0 ? m.lockfiles.map(([n, h]) => `${n} (${h.slice(0, 12)})`).join(', ') : '(none)'}`);
    r.line(`  inputs      ${m.files.length} file${m.files.length === 1 ? '' : 's'}`);
    for (const [path, hash] of m.files) r.line(`    ${hash.slice(0, 12)}  ${path}`);
    r.line('');
  }
}
