#!/usr/bin/env node
// Proves the Dockerfile builds and its image runs, without a Docker engine: reproduces its stages
// from its own COPY and RUN lines into a temporary root, then starts the result and checks it
// (scripts/dockerfile-check/). Exit 0 when everything holds; otherwise every failure is listed.
//   node scripts/check-dockerfile.mjs [--dockerfile FILE] [--context DIR] [--fast-npm-ci] [--keep]
// --fast-npm-ci links the context's node_modules instead of re-installing (npm test uses it).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkBaseImages } from './dockerfile-check/base-images.mjs';
import { parseDockerfile } from './dockerfile-check/parse-dockerfile.mjs';
import { reproduce } from './dockerfile-check/reproduce.mjs';
import { checkImage } from './dockerfile-check/run-image.mjs';

const { values } = parseArgs({
  options: {
    dockerfile: { type: 'string', default: 'Dockerfile' },
    context: { type: 'string', default: '.' },
    'fast-npm-ci': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const context = resolve(values.context);
const root = mkdtempSync(join(tmpdir(), 'velocity-dockerfile-'));
const log = values.quiet ? () => {} : (m) => process.stderr.write(`${m}\n`);
let failures = [];
try {
  const stages = parseDockerfile(readFileSync(resolve(values.dockerfile), 'utf8'));
  failures.push(...checkBaseImages(stages));
  const image = reproduce(stages, { context, root, fastNpmCi: values['fast-npm-ci'], log });
  log('image reproduced; starting its default command');
  failures.push(...(await checkImage(image, { packageJson: JSON.parse(readFileSync(join(context, 'package.json'), 'utf8')) })));
} catch (err) {
  failures.push(err instanceof Error ? err.message : String(err));
} finally {
  if (values.keep) log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
if (failures.length > 0) {
  process.stdout.write(`Dockerfile check FAILED:\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write('Dockerfile check passed: the stages reproduce and the image starts ready\n');
}
