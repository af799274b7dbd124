import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { transformFile } from '@swc/core';

/**
 * Compiles `src/` to plain ES modules under `.test-services/builds-dist/` (inside the project, so
 * `node_modules` resolves), for tests that run a real `velocity-worker` process. SWC, like jest's
 * own transform: fast, no type check (`npm run typecheck` is the type gate), and independent of
 * other files' `dist/` state.
 */
export async function compileSources(root = process.cwd(), name = 'builds-dist'): Promise<string> {
  const src = join(root, 'src');
  // A name per test file: two files compiling into one folder at once read each other's half-written files.
  const out = join(root, '.test-services', name);
  const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  await Promise.all(
    files.map(async (file) => {
      const from = join(src, file);
      const { code } = await transformFile(from, {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
        sourceMaps: false,
      });
      const to = join(out, relative(src, from)).replace(/\.ts$/, '.js');
      await mkdir(dirname(to), { recursive: true });
      await writeFile(to, code);
    }),
  );
  return out;
}
