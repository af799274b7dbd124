import { afterAll, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gitdir, monorepoFiles, removeGitdirs } from '../../fixtures/cli/monorepo.js';
import { runCli } from '../../integration/cli/run-cli.js';

afterAll(removeGitdirs);

interface DryRun {
  tasks: Array<{ id: string; key: string; inputs: { files: Array<[string, string]>; env: Array<[string, string | null]>; lockfiles: Array<[string, string]>; deps: Array<[string, string]>; format: string } }>;
}

async function dryRun(dir: string, env: Record<string, string | undefined> = {}): Promise<DryRun> {
  const r = await runCli(['run', 'build', '--dry-run', '--json'], { cwd: dir, env: { FIXTURE_FLAVOR: undefined, ...env } });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as DryRun;
}
const keys = (d: DryRun): Record<string, string> => Object.fromEntries(d.tasks.map((t) => [t.id, t.key]));

describe('task keys', () => {
  it('cover inputs by relative path and content, the env vars listed, the lockfile and dependency keys', async () => {
    const dir = await gitdir(monorepoFiles('npm', { remote: false }));
    const base = await dryRun(dir);
    const b = base.tasks.find((t) => t.id === '@fx/b#build');
    expect(b?.inputs.format).toBe('velocity-task-key/2');
    expect(b?.inputs.files.map(([p]) => p)).toEqual(['.gitignore', 'package.json', 'src/index.js']);
    expect(b?.inputs.env).toEqual([['FIXTURE_FLAVOR', null]]);
    expect(b?.inputs.lockfiles.map(([n]) => n)).toEqual(['package-lock.json']);
    expect(b?.inputs.deps).toEqual([['@fx/a#build', keys(base)['@fx/a#build']]]);

    // Git-ignored files (root and nested .gitignore) and other packages' changes do not matter.
    await writeFile(join(dir, 'packages/b/local-notes.txt'), 'edited');
    await writeFile(join(dir, 'packages/a/src/ignored.tmp'), 'edited');
    expect(keys(await dryRun(dir))).toEqual(keys(base));

    // The listed env var's value does.
    const withEnv = keys(await dryRun(dir, { FIXTURE_FLAVOR: 'x' }));
    expect(Object.values(withEnv).every((k, i) => k !== Object.values(keys(base))[i])).toBe(true);

    // A source change changes that task and its dependents only.
    await writeFile(join(dir, 'packages/b/src/index.js'), 'export const b = 3;\n');
    const changed = keys(await dryRun(dir));
    expect(changed['@fx/a#build']).toBe(keys(base)['@fx/a#build']);
    expect(changed['@fx/d#build']).toBe(keys(base)['@fx/d#build']);
    expect(changed['@fx/b#build']).not.toBe(keys(base)['@fx/b#build']);
    expect(changed['@fx/c#build']).not.toBe(keys(base)['@fx/c#build']);

    // The root lockfile changes every key.
    await writeFile(join(dir, 'package-lock.json'), '{"lockfileVersion":3,"changed":true}\n');
    const relocked = keys(await dryRun(dir));
    for (const id of Object.keys(changed)) expect(relocked[id]).not.toBe(changed[id]);
  });

  it('do not change with the checkout path, and new untracked-but-not-ignored files are inputs', async () => {
    const one = await gitdir(monorepoFiles('pnpm', { remote: false }));
    const two = await gitdir(monorepoFiles('pnpm', { remote: false }), 'elsewhere-entirely-');
    expect(keys(await dryRun(one))).toEqual(keys(await dryRun(two)));
    await writeFile(join(two, 'packages/d/README.md'), '# d\n');
    const k2 = keys(await dryRun(two));
    expect(k2['@fx/d#build']).not.toBe(keys(await dryRun(one))['@fx/d#build']);
  });

  it('ignore outputs when inputs are not listed, so a build does not change its own key', async () => {
    const dir = await gitdir({ ...monorepoFiles('npm', { remote: false }), '.gitignore': 'runs.log\nnot-an-output.txt\n' });
    const before = keys(await dryRun(dir));
    expect((await runCli(['run', 'build'], { cwd: dir, env: { FIXTURE_FLAVOR: undefined } })).code).toBe(0);
    const after = await dryRun(dir);
    expect(keys(after)).toEqual(before);
    expect(after.tasks[0]?.inputs.files.map(([p]) => p)).not.toContain('dist/index.js');
  });
});
