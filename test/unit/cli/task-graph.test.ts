import { describe, expect, it } from '@jest/globals';
import type { TaskConfig } from '../../../src/cli/config/schema.js';
import { TaskCycleError, UsageError } from '../../../src/cli/errors.js';
import { buildTaskGraph } from '../../../src/cli/graph/task-graph.js';
import type { WorkspacePackage } from '../../../src/cli/workspace/discover.js';

const pkg = (name: string, dependencies: string[] = []): WorkspacePackage => ({ name, dir: `/r/${name}`, relDir: name, dependencies });
const task = (depends_on: string[] = []): TaskConfig => ({ command: 'x', outputs: [], depends_on, env: [], pass_through_env: [] });

describe('task graph', () => {
  // app -> ui -> core, app -> core (diamond), tool standalone
  const packages = [pkg('app', ['ui', 'core']), pkg('core'), pkg('tool'), pkg('ui', ['core'])];
  const pipeline = { build: task(['^build']), lint: task(), test: task(['build', 'lint']) };

  it('expands ^task through workspace dependencies and task through the same package, deduplicated', () => {
    const g = buildTaskGraph({ packages, pipeline, tasks: ['test'] });
    expect(g.nodes.get('app#build')?.deps).toEqual(['core#build', 'ui#build']);
    expect(g.nodes.get('app#test')?.deps).toEqual(['app#build', 'app#lint']);
    expect(g.nodes.get('core#build')?.deps).toEqual([]);
    expect([...g.nodes.keys()].filter((id) => id === 'core#build')).toHaveLength(1);
    expect(g.nodes.size).toBe(12);
    const pos = (id: string): number => g.order.indexOf(id);
    expect(pos('core#build')).toBeLessThan(pos('ui#build'));
    expect(pos('ui#build')).toBeLessThan(pos('app#build'));
    expect(pos('app#lint')).toBeLessThan(pos('app#test'));
  });

  it('restricts the requested tasks with a filter, keeping what they depend on', () => {
    const g = buildTaskGraph({ packages, pipeline, tasks: ['build'], filter: ['ui'] });
    expect([...g.nodes.keys()].sort()).toEqual(['core#build', 'ui#build']);
    expect(() => buildTaskGraph({ packages, pipeline, tasks: ['build'], filter: ['nope'] })).toThrow('no workspace package named "nope"');
  });

  it('rejects unknown tasks, naming what exists', () => {
    expect(() => buildTaskGraph({ packages, pipeline, tasks: ['biuld'] })).toThrow(UsageError);
    expect(() => buildTaskGraph({ packages, pipeline, tasks: ['biuld'] })).toThrow('unknown task "biuld" (velocity.yml defines: build, lint, test)');
  });

  it('names the cycle', () => {
    const cyclic = [pkg('a', ['b']), pkg('b', ['c']), pkg('c', ['a'])];
    let error: unknown;
    try {
      buildTaskGraph({ packages: cyclic, pipeline, tasks: ['build'] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TaskCycleError);
    expect((error as TaskCycleError).message).toBe('task dependency cycle: a#build -> b#build -> c#build -> a#build');
  });

  it('finds cycles between tasks of one package', () => {
    const p = { one: task(['two']), two: task(['one']) };
    expect(() => buildTaskGraph({ packages: [pkg('x')], pipeline: p, tasks: ['one'] })).toThrow('x#one -> x#two -> x#one');
  });
});
