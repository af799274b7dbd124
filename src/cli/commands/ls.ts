import { loadProject } from '../config/load.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { discoverPackages } from '../workspace/discover.js';
import { packageScope } from '../workspace/scope.js';

export interface LsOptions {
  filter?: string[] | undefined;
  affected?: boolean | undefined;
  output?: string | undefined;
}

/**
 * `velocity ls`: the workspace packages (name and folder), narrowed by `--filter`/`--affected`
 * as a run would be. The list is what was asked for, so it goes to stdout; warnings to stderr.
 */
export async function lsCommand(opts: LsOptions, io: CliIo): Promise<void> {
  const output = opts.output ?? 'pretty';
  if (output !== 'pretty' && output !== 'json') throw new UsageError(`--output must be one of pretty, json, got "${output}"`);
  const project = await loadProject(io.cwd, io.env);
  const packages = await discoverPackages(project.root, project.config.packages);
  const scope = await packageScope(packages, { filters: opts.filter, affected: opts.affected }, {
    root: project.root,
    env: io.env,
    warn: (m) => io.stderr.write(`velocity: warning: ${m}\n`),
  });
  const listed = packages.filter((p) => !scope || scope.has(p.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (output === 'json') {
    const items = listed.map((p) => ({ name: p.name, path: p.relDir, dependencies: p.dependencies }));
    io.stdout.write(`${JSON.stringify({ packages: { count: items.length, items } }, null, 2)}\n`);
    return;
  }
  const width = Math.max(0, ...listed.map((p) => p.name.length));
  const lines = [`${listed.length} package${listed.length === 1 ? '' : 's'}`, ''];
  for (const p of listed) lines.push(`  ${p.name.padEnd(width)}  ${p.relDir}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}
