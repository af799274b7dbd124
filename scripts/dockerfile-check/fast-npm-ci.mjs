// `npm ci` for the jest run of the reproduction, which must stay fast: a real `npm ci` re-extracts
// some 700 packages (40 s here). Same result when the lockfile is the context's and the context's
// node_modules was installed from it: hard links to those files, then the root package's lifecycle
// scripts exactly as `npm ci` runs them (`prepare` is what builds dist/, the step that broke).
// `scripts/check-dockerfile.mjs --literal` runs the real `npm ci` instead.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const context = process.env.VELOCITY_REPRO_CONTEXT;
const fail = (msg) => {
  process.stderr.write(`npm ci (reproduction): ${msg}\n`);
  process.exit(1);
};
if (!existsSync('package.json')) fail('no package.json in the working directory: it was not copied');
if (!existsSync('package-lock.json')) fail('npm ci needs package-lock.json: it was not copied');
const lock = readFileSync('package-lock.json', 'utf8');
if (lock !== readFileSync(join(context, 'package-lock.json'), 'utf8')) fail('package-lock.json differs from the context\'s');
const installed = join(context, 'node_modules', '.package-lock.json');
if (!existsSync(installed)) fail('the context has no installed node_modules to link (run npm ci there first)');
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const root = JSON.parse(lock).packages[''];
for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
  if (JSON.stringify(pkg[field] ?? {}) !== JSON.stringify(root[field] ?? {})) fail(`package.json ${field} do not match package-lock.json (npm ci would refuse)`);
}
rmSync('node_modules', { recursive: true, force: true });
// Hard links need one file system; across two, a plain copy (slower, same result).
const linked = spawnSync('cp', ['-al', join(context, 'node_modules'), 'node_modules'], { stdio: 'ignore' });
if (linked.status !== 0) {
  rmSync('node_modules', { recursive: true, force: true });
  if (spawnSync('cp', ['-a', join(context, 'node_modules'), 'node_modules'], { stdio: 'inherit' }).status !== 0) fail('could not copy node_modules');
}
// npm rewrites this file when it prunes: give the copy its own inode so the context's stays intact.
rmSync(join('node_modules', '.package-lock.json'));
copyFileSync(installed, join('node_modules', '.package-lock.json'));
for (const script of ['preinstall', 'install', 'postinstall', 'prepublish', 'preprepare', 'prepare', 'postprepare']) {
  if (!pkg.scripts?.[script]) continue;
  const r = spawnSync('npm', ['run', script], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
