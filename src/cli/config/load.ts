import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ProjectConfigError, UsageError } from '../errors.js';
import { expandDeep } from './expand-env.js';
import type { ProjectConfig, TransferConfig } from './schema.js';

export const CONFIG_FILES = ['velocity.yml', 'velocity.yaml'] as const;

/** The remote cache as this run will use it, or why it is off. */
export type RemoteSettings =
  | { enabled: true; url: string; token: string; namespace: string; timeoutMs: number; transfer: TransferConfig }
  | { enabled: false; reason: string; /** Off by accident (e.g. an unset variable), worth a warning. */ unexpected: boolean };

export interface LoadedProject {
  root: string;
  file: string;
  config: ProjectConfig;
  remote: RemoteSettings;
  /** Variables the `remote` section names (its token...): never handed to tasks undeclared. */
  remoteVariables: ReadonlySet<string>;
}

/**
 * A velocity.yml to start from, shown when there is none. The example file of the repository
 * (velocity.yml.example) is not in the installed packages, so the message carries what a first
 * run needs and names the section of the docs that describes every field.
 */
export const STARTER_CONFIG = ['version: 1', 'pipeline:', '  build:', '    command: npm run build', '    outputs: ["dist/**"]', '    depends_on: ["^build"]'].join('\n');

export const CONFIG_DOCS = 'docs/cli.md#velocityyml';

/** Walks up from `cwd` to the nearest directory holding a velocity.yml. */
export function findConfigFile(cwd: string): string {
  let dir = resolve(cwd);
  for (;;) {
    for (const name of CONFIG_FILES) {
      const file = join(dir, name);
      if (existsSync(file)) return file;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      const example = STARTER_CONFIG.split('\n').map((line) => `  ${line}`).join('\n');
      throw new UsageError(
        `no velocity.yml found in ${resolve(cwd)} or any parent directory. Create one at the repository root, for example:\n\n${example}\n\nEvery field is described in ${CONFIG_DOCS} (the velocity repository's documentation).`,
      );
    }
    dir = parent;
  }
}

/** Checks the parts zod cannot see: references between tasks. */
export function crossCheck(config: ProjectConfig): string[] {
  const problems: string[] = [];
  for (const [name, task] of Object.entries(config.pipeline)) {
    task.outputs.forEach((glob, i) => {
      const path = glob.replace(/^!/, '');
      if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.split(/[\\/]/).includes('..')) {
        problems.push(`pipeline.${name}.outputs[${i}]: must stay inside the package (no leading / and no ..)`);
      }
    });
    task.depends_on.forEach((dep, i) => {
      const target = dep.startsWith('^') ? dep.slice(1) : dep;
      if (!(target in config.pipeline)) {
        problems.push(`pipeline.${name}.depends_on[${i}]: unknown task "${target}"`);
      } else if (target === name && !dep.startsWith('^')) {
        problems.push(`pipeline.${name}.depends_on[${i}]: a task cannot depend on itself`);
      }
    });
  }
  return problems;
}

function resolveRemote(
  config: ProjectConfig,
  missing: Map<string, string[]>,
  problems: string[],
): RemoteSettings {
  const remote = config.remote;
  if (!remote) return { enabled: false, reason: 'no remote configured in velocity.yml', unexpected: false };
  if (!remote.enabled) return { enabled: false, reason: 'remote.enabled is false', unexpected: false };
  const unset = [...new Set([...(missing.get('remote.url') ?? []), ...(missing.get('remote.token') ?? [])])];
  if (remote.url === '') {
    if (unset.length > 0) return { enabled: false, reason: `remote.url is empty: ${unset.map((n) => `$${n}`).join(', ')} not set`, unexpected: true };
    problems.push('remote.url: is required when remote.enabled is true');
    return { enabled: false, reason: 'invalid', unexpected: true };
  }
  let url: URL;
  try {
    url = new URL(remote.url);
  } catch {
    problems.push(`remote.url: "${remote.url}" is not a URL`);
    return { enabled: false, reason: 'invalid', unexpected: true };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`remote.url: must be an http:// or https:// URL`);
    return { enabled: false, reason: 'invalid', unexpected: true };
  }
  if (remote.token === '' && unset.length > 0) {
    return { enabled: false, reason: `remote.token is empty: ${unset.map((n) => `$${n}`).join(', ')} not set`, unexpected: true };
  }
  return {
    enabled: true,
    url: remote.url.replace(/\/+$/, ''),
    token: remote.token,
    namespace: remote.namespace,
    timeoutMs: remote.timeout_ms,
    transfer: remote.transfer,
  };
}

/** The parsed YAML document to the raw object zod validates; `remote` env-expanded. */
export function configData(
  raw: unknown,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): { data: Record<string, unknown>; missing: Map<string, string[]>; referenced: Set<string> } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ProjectConfigError(file, ['(top level): must be a mapping with version, pipeline, ...']);
  }
  const data = { ...(raw as Record<string, unknown>) };
  const missing = new Map<string, string[]>();
  const referenced = new Set<string>();
  // Only the remote section is expanded: commands stay exactly as written.
  if ('remote' in data) data.remote = expandDeep(data.remote, env, { missing, referenced }, 'remote');
  return { data, missing, referenced };
}

/** The checks after the schema: task references, and the remote as this run will use it. */
export function finishProjectConfig(
  config: ProjectConfig,
  missing: Map<string, string[]>,
  file: string,
): { config: ProjectConfig; remote: RemoteSettings } {
  const problems = crossCheck(config);
  const remote = resolveRemote(config, missing, problems);
  if (problems.length > 0) throw new ProjectConfigError(file, problems);
  return { config, remote };
}

export async function loadProject(cwd: string, env: Readonly<Record<string, string | undefined>>): Promise<LoadedProject> {
  const file = findConfigFile(cwd);
  const text = await readFile(file, 'utf8');
  // `yaml` and zod are loaded here, not at start-up, so commands that never read the config
  // (help, version) do not pay for them.
  const { parseProjectConfig } = await import('./parse.js');
  const { config, remote, remoteVariables } = parseProjectConfig(text, file, env);
  return { root: dirname(file), file, config, remote, remoteVariables };
}
