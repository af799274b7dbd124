import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { loadProject } from '../config/load.js';
import { UsageError } from '../errors.js';
import { GitIgnoreMatcher } from '../hashing/gitignore.js';
import type { CliIo } from '../io.js';
import { discoverPackages, type WorkspacePackage } from '../workspace/discover.js';
import { checkInsideRepository, copyEntries, listPackageFiles, rootFiles, type PruneEntry } from '../workspace/prune-files.js';
import { pruneNpmLockfile, type PrunedLockfile } from '../workspace/prune-lockfile.js';
import { npmLockfileOf, outputFolder, packagesToKeep } from '../workspace/prune-plan.js';

export interface PruneOptions {
  packages: string[];
  outDir?: string | undefined;
  docker?: boolean | undefined;
}

const isUnder = (dir: string, path: string): boolean => dir === '.' || path === dir || path.startsWith(`${dir}/`);

/** Folders to copy: kept packages, plus what the lockfile links to that none of them holds. */
function foldersToCopy(kept: readonly WorkspacePackage[], all: readonly WorkspacePackage[], lock: PrunedLockfile | undefined): { folders: string[]; added: string[] } {
  const folders = new Set(kept.map((p) => p.relDir).filter((d) => d !== '.'));
  const added: string[] = [];
  for (const dir of lock?.linked ?? []) {
    if (dir === '.' || [...folders].some((f) => isUnder(f, dir))) continue;
    folders.add(dir);
    const pkg = all.find((p) => p.relDir === dir);
    added.push(pkg ? `${pkg.name} (${dir}, linked in the lockfile)` : `${dir} (a local package the lockfile links to)`);
  }
  return { folders: [...folders].sort(), added };
}

/**
 * `velocity prune <pkg...>`: a copy of the repository holding only the named packages, the
 * workspace packages they depend on and an npm lockfile keeping only what those need, as
 * `turbo prune` makes for Docker builds. With `--docker`, `json/` holds the manifests and the
 * lockfile (the layer `npm ci` installs from, cached while only sources change) and `full/`
 * everything. Nothing outside the repository is ever read or linked to.
 */
export async function pruneCommand(opts: PruneOptions, io: CliIo): Promise<void> {
  const project = await loadProject(io.cwd, io.env);
  const root = project.root;
  const all = await discoverPackages(root, project.config.packages);
  const kept = packagesToKeep(all, opts.packages);
  for (const p of kept) if (p.relDir !== '.') checkInsideRepository(root, p.relDir);
  const out = outputFolder(root, opts.outDir);

  const lockName = npmLockfileOf(root);
  let lock: PrunedLockfile | undefined;
  if (lockName) {
    const workspaceDirs = kept.map((p) => p.relDir).filter((d) => d !== '.');
    lock = pruneNpmLockfile(await readFile(join(root, lockName), 'utf8'), lockName, workspaceDirs);
  } else {
    io.stderr.write('velocity: warning: no package-lock.json at the repository root: the pruned copy has no lockfile\n');
  }
  const { folders, added } = foldersToCopy(kept, all, lock);

  const gitignore = new GitIgnoreMatcher(root);
  // Packages nested in a copied folder that are not kept stay out, and so does the output.
  const skip = new Set(all.map((p) => p.relDir).filter((d) => !folders.includes(d) && d !== '.'));
  if (out.rel !== undefined) skip.add(out.rel);
  const files: PruneEntry[] = [];
  for (const dir of folders) {
    checkInsideRepository(root, dir);
    // A kept package inside another kept one is copied with it, once.
    if (folders.some((other) => other !== dir && isUnder(other, dir))) continue;
    files.push(...(await listPackageFiles({ root, relDir: dir, gitignore, skip })));
  }
  const configName = basename(project.file);
  const top = await rootFiles(root, ['package.json', configName, '.gitignore']);
  const manifests = [...top.filter((e) => e.path === 'package.json'), ...files.filter((e) => posix.basename(e.path) === 'package.json' && folders.includes(posix.dirname(e.path)))];
  for (const dir of folders) {
    if (!manifests.some((e) => e.path === `${dir}/package.json`)) throw new UsageError(`${dir} has no package.json to copy`);
  }

  const writeLock = async (dest: string): Promise<void> => {
    if (lock && lockName) await writeFile(join(dest, lockName), lock.text);
  };
  await mkdir(out.abs, { recursive: true });
  if (opts.docker) {
    const json = join(out.abs, 'json');
    const full = join(out.abs, 'full');
    await copyEntries(root, json, manifests);
    await writeLock(json);
    await copyEntries(root, full, [...top, ...files]);
    await writeLock(full);
    await writeLock(out.abs);
  } else {
    await copyEntries(root, out.abs, [...top, ...files]);
    await writeLock(out.abs);
  }

  const lines = [`Pruned ${opts.packages.join(', ')} into ${out.abs}${opts.docker ? ' (json/ and full/)' : ''}`];
  for (const p of kept) lines.push(` - Added ${p.name} (${p.relDir})`);
  for (const a of added) lines.push(` - Added ${a}`);
  if (lock && lockName) lines.push(` - ${lockName}: kept ${lock.kept.length} of ${lock.kept.length + lock.dropped.length} entries`);
  io.stderr.write(`${lines.join('\n')}\n`);
}
