import { extname } from 'node:path';
import { UsageError } from '../errors.js';
import type { TaskGraph } from '../graph/task-graph.js';

export type GraphFormat = 'dot' | 'mermaid';

/** `--graph=file`: the format its extension names. */
export function graphFormatOf(file: string): GraphFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.dot' || ext === '.gv') return 'dot';
  if (ext === '.mmd' || ext === '.mermaid') return 'mermaid';
  throw new UsageError(`--graph: cannot write "${file}": use .dot or .gv (Graphviz DOT), .mmd or .mermaid (Mermaid)`);
}

/** Every task id, sorted, and every edge `task -> what it waits for`, sorted. */
function edges(graph: TaskGraph): { ids: string[]; edges: Array<[string, string]> } {
  const ids = [...graph.nodes.keys()].sort();
  const out: Array<[string, string]> = [];
  for (const id of ids) for (const dep of graph.nodes.get(id)?.deps ?? []) out.push([id, dep]);
  return { ids, edges: out };
}

const dotString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Graphviz DOT: one node per task, an edge from each task to each task it waits for. */
export function toDot(graph: TaskGraph): string {
  const g = edges(graph);
  const lines = ['digraph velocity {', '\tnode [shape = "box"]'];
  for (const id of g.ids) lines.push(`\t${dotString(id)}`);
  for (const [from, to] of g.edges) lines.push(`\t${dotString(from)} -> ${dotString(to)}`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Mermaid flowchart: nodes `T0`, `T1`... labelled with task ids (quotes as Mermaid's `#quot;`). */
export function toMermaid(graph: TaskGraph): string {
  const g = edges(graph);
  const name = new Map(g.ids.map((id, i) => [id, `T${i}`]));
  const lines = ['graph TD'];
  for (const id of g.ids) lines.push(`\t${name.get(id) as string}["${id.replace(/"/g, '#quot;')}"]`);
  for (const [from, to] of g.edges) lines.push(`\t${name.get(from) as string} --> ${name.get(to) as string}`);
  return `${lines.join('\n')}\n`;
}

export function formatGraph(graph: TaskGraph, format: GraphFormat): string {
  return format === 'dot' ? toDot(graph) : toMermaid(graph);
}
