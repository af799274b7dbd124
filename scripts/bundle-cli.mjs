#!/usr/bin/env node
// Bundles the `velocity` CLI (already compiled by tsc into dist/) into one file, in place of
// dist/bin/velocity.js. The CLI starts on every CI step: loading one file instead of a few
// hundred ESM modules (zod, yaml, tar, our own) saves about 70 ms per invocation, a tenth of an
// all-hit run. The gateway and the worker are long-running and stay unbundled.
//
// The same bundle is the only runtime file of the light CLI package, packages/cli/velocity.mjs
// (`npx @velocity/cli`, docs/cli.md "Installing the CLI on its own"): it needs nothing next to
// it, so the package has no dependencies and installs one file instead of the server's tree.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const entry = join(root, 'dist/bin/velocity.js');
const light = join(root, 'packages/cli');
const BANNER = "import { createRequire as __velocityRequire } from 'node:module'; const require = __velocityRequire(import.meta.url);";

const readJson = async (file) => JSON.parse(await readFile(file, 'utf8'));
const { version } = await readJson(join(root, 'package.json'));
// The server's Docker build copies src/ and scripts/ only: no light package to write there.
const lightManifest = existsSync(join(light, 'package.json')) ? await readJson(join(light, 'package.json')) : undefined;
// One version for both packages: the bundle reports the root's, so the light one must carry it too.
if (lightManifest && lightManifest.version !== version) {
  throw new Error(`packages/cli/package.json has version ${lightManifest.version}, package.json ${version}: set the same version in both`);
}

// The version is fixed into the bundle: package-version.ts looks for a package.json named
// `velocity` above the running file, which the light package (installed anywhere) does not have.
let versionInlined = false;
const inlineVersion = {
  name: 'inline-version',
  setup(b) {
    b.onLoad({ filter: /[\\/]metrics[\\/]package-version\.js$/ }, () => {
      versionInlined = true;
      return { contents: `export function packageVersion() { return ${JSON.stringify(version)}; }\n`, loader: 'js' };
    });
  },
};

// dist/bin/velocity.js is tsc's output until bundled; bundling a bundle again would declare
// `require` twice, so a second run (without tsc in between) only refreshes the light copy.
const current = await readFile(entry, 'utf8');
if (!current.includes(BANNER)) {
  await build({
    entryPoints: [entry],
    outfile: entry,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [inlineVersion],
    // Some dependencies are CommonJS and call require(); give the ES module bundle one.
    banner: { js: BANNER },
  });
  if (!versionInlined) throw new Error('bundle-cli: src/metrics/package-version.ts was not found in the bundle; update the inline-version plugin');
}

// The light package ships the bundle alone: `.mjs` so that Node loads it as ESM with no
// package.json around it, and without the source map comment (the map is not shipped).
if (lightManifest) {
  const bundle = (await readFile(entry, 'utf8')).replace(/\n\/\/# sourceMappingURL=\S+\n?$/, '\n');
  await writeFile(join(light, 'velocity.mjs'), bundle);
  await chmod(join(light, 'velocity.mjs'), 0o755);
}
