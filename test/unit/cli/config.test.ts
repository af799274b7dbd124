import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProject } from '../../../src/cli/config/load.js';
import { parseProjectConfig } from '../../../src/cli/config/parse.js';
import { ProjectConfigError } from '../../../src/cli/errors.js';

const parse = (text: string, env: Record<string, string> = {}) => parseProjectConfig(text, 'velocity.yml', env);

function problemsOf(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ProjectConfigError);
    return [...(err as ProjectConfigError).problems];
  }
  throw new Error('expected the config to be rejected');
}

describe('velocity.yml', () => {
  it('applies defaults', () => {
    const { config, remote } = parse('version: 1\npipeline:\n  build:\n    command: tsc\n');
    expect(config.pipeline.build).toEqual({ command: 'tsc', outputs: [], depends_on: [], env: [], pass_through_env: [] });
    expect(config.pass_through_env).toEqual([]);
    expect(remote).toEqual({ enabled: false, reason: 'no remote configured in velocity.yml', unexpected: false });
  });

  it('lists every problem, each with its path', () => {
    const problems = problemsOf(
      [
        'version: 2',
        'colour: blue',
        'remote:',
        '  url: 42',
        '  namespace: Not_Valid',
        'pipeline:',
        '  build:',
        '    outputs: dist/**',
        '    depends_on: ["^bad name"]',
        '    envs: [X]',
        '  test:',
        '    command: ""',
        '    env: ["1X"]',
      ].join('\n'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'version: must be 1',
        'colour: unknown key',
        expect.stringMatching(/^remote\.url: /),
        expect.stringMatching(/^remote\.namespace: must match/),
        'pipeline.build.command: is required',
        expect.stringMatching(/^pipeline\.build\.outputs: /),
        expect.stringMatching(/^pipeline\.build\.depends_on\[0\]: must be a task name/),
        'pipeline.build.envs: unknown key',
        'pipeline.test.command: must be a non-empty command',
        'pipeline.test.env[0]: must be an environment variable name',
      ]),
    );
    expect(problems).toHaveLength(10);
  });

  it('reports references to unknown tasks and self-dependencies', () => {
    expect(problemsOf('version: 1\npipeline:\n  build:\n    command: x\n    depends_on: ["^buidl", "build", "lint"]\n')).toEqual([
      'pipeline.build.depends_on[0]: unknown task "buidl"',
      'pipeline.build.depends_on[1]: a task cannot depend on itself',
      'pipeline.build.depends_on[2]: unknown task "lint"',
    ]);
  });

  it('keeps outputs inside the package', () => {
    expect(problemsOf('version: 1\npipeline:\n  build:\n    command: x\n    outputs: ["dist/**", "../shared/**", "/tmp/x"]\n')).toEqual([
      'pipeline.build.outputs[1]: must stay inside the package (no leading / and no ..)',
      'pipeline.build.outputs[2]: must stay inside the package (no leading / and no ..)',
    ]);
  });

  it('reports YAML syntax errors and a non-mapping document', () => {
    expect(problemsOf('version: 1\npipeline: [\n')[0]).toMatch(/^not valid YAML/);
    expect(problemsOf('- a\n- b\n')).toEqual(['(top level): must be a mapping with version, pipeline, ...']);
    expect(problemsOf('version: 1\npipeline: {}\n')).toEqual(['pipeline: must define at least one task']);
  });

  it('expands ${VAR} in the remote section only, never in commands', () => {
    const text = [
      'version: 1',
      'remote:',
      '  url: ${CACHE_URL}/',
      '  token: ${CACHE_TOKEN}',
      '  namespace: ${NS:-web}',
      'pipeline:',
      '  build:',
      '    command: echo ${CACHE_TOKEN} $HOME',
    ].join('\n');
    const { config, remote } = parse(text, { CACHE_URL: 'https://cache.example', CACHE_TOKEN: 's3cret' });
    expect(remote).toEqual({ enabled: true, url: 'https://cache.example', token: 's3cret', namespace: 'web', timeoutMs: 15000, transfer: { idle_timeout_ms: 30000, min_bytes_per_second: 1024, window_ms: 30000 } });
    expect(config.pipeline.build?.command).toBe('echo ${CACHE_TOKEN} $HOME');
  });

  it('turns the remote off (with a reason to warn about) when its variables are not set', () => {
    const { remote } = parse('version: 1\nremote:\n  url: ${CACHE_URL}\n  token: ${CACHE_TOKEN}\npipeline:\n  b:\n    command: x\n');
    expect(remote).toEqual({ enabled: false, reason: 'remote.url is empty: $CACHE_URL, $CACHE_TOKEN not set', unexpected: true });
  });

  it('rejects a remote URL that is not http(s)', () => {
    expect(problemsOf('version: 1\nremote:\n  url: ftp://x\npipeline:\n  b:\n    command: x\n')).toEqual([
      'remote.url: must be an http:// or https:// URL',
    ]);
  });
  it.each([
    ['plain (the quick path)', 'version: 1\nremote:\n  url: ${U:-http://gw}\npipeline:\n  build:\n    command: tsc\n    outputs: ["dist/**"]\n'],
    ['with YAML the quick reader leaves to yaml', 'version: 1\npipeline:\n  build:\n    command: |\n      tsc -b\n    outputs: &out ["dist/**"]\n  pack:\n    command: npm pack\n    outputs: *out\n'],
  ])('loads a %s velocity.yml exactly as the full parser reads it', async (_name, text) => {
    const dir = await mkdtemp(join(tmpdir(), 'velocity-config-'));
    try {
      await writeFile(join(dir, 'velocity.yml'), text);
      const loaded = await loadProject(dir, {});
      expect({ config: loaded.config, remote: loaded.remote, remoteVariables: loaded.remoteVariables }).toEqual(parse(text));
      await writeFile(join(dir, 'velocity.yml'), `${text}colour: blue\n`);
      await expect(loadProject(dir, {})).rejects.toMatchObject({ problems: ['colour: unknown key'] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
