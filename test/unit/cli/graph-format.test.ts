import { describe, expect, it } from '@jest/globals';
import type { TaskConfig } from '../../../src/cli/config/schema.js';
import { buildTaskGraph } from '../../../src/cli/graph/task-graph.js';
import { graphFormatOf, toDot, toMermaid } from '../../../src/cli/report/graph-format.js';
import type { WorkspacePackage } from '../../../src/cli/workspace/discover.js';

const pkg = (name: string, dependencies: string[] = []): WorkspacePackage => ({ name, dir: `/r/${name}`, relDir: name, dependencies });
const task = (depends_on: string[] = []): TaskConfig => ({ command: 'x', outputs: [], depends_on, env: [], pass_through_env: [] });

describe('task graph formats', () => {
  // A name with a quote and a backslash: what a hostile or odd package.json could hold.
  const graph = buildTaskGraph({ packages: [pkg('app', ['we"ird\\']), pkg('we"ird\\'), pkg('lone')], pipeline: { build: task(['^build']) }, tasks: ['build'] });

  it('DOT: every task a node (a task without edges too), edges to what each waits for, strings escaped', () => {
    expect(toDot(graph)).toBe(
      ['digraph velocity {', '\tnode [shape = "box"]', '\t"app#build"', '\t"lone#build"', '\t"we\\"ird\\\\#build"', '\t"app#build" -> "we\\"ird\\\\#build"', '}', ''].join('\n'),
    );
  });

  it('Mermaid: generated node ids, task ids as labels, quotes as #quot;', () => {
    expect(toMermaid(graph)).toBe(['graph TD', '\tT0["app#build"]', '\tT1["lone#build"]', '\tT2["we#quot;ird\\#build"]', '\tT0 --> T2', ''].join('\n'));
  });

  it('picks the format by extension, refusing others', () => {
    expect(['a.dot', 'a.GV', 'x/a.mmd', 'a.mermaid'].map(graphFormatOf)).toEqual(['dot', 'dot', 'mermaid', 'mermaid']);
    expect(() => graphFormatOf('a.svg')).toThrow('--graph: cannot write "a.svg"');
    expect(() => graphFormatOf('dot')).toThrow('use .dot or .gv');
  });
});
