#!/usr/bin/env node
// Bundles the `velocity` CLI (already compiled by tsc into dist/) into one file, in place of
// dist/bin/velocity.js. The CLI starts on every CI step: loading one file instead of a few
// hundred ESM modules (zod, yaml, tar, our own) saves about 70 ms per invocation, a tenth of an
// all-hit run. The gateway and the worker are long-running and stay unbundled.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/bin/velocity.js'],
  outfile: 'dist/bin/velocity.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Some dependencies are CommonJS and call require(); give the ES module bundle one.
  banner: { js: "import { createRequire as __velocityRequire } from 'node:module'; const require = __velocityRequire(import.meta.url);" },
});
