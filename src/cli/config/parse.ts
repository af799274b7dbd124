import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ProjectConfigError } from '../errors.js';
import { configData, finishProjectConfig, type RemoteSettings } from './load.js';
import { projectConfigSchema, type ProjectConfig } from './schema.js';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(top level)' : out;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const problems: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push(`${formatPath([...issue.path, key])}: unknown key`);
      continue;
    }
    const message = /received undefined$/.test(issue.message) ? 'is required' : issue.message;
    problems.push(`${formatPath(issue.path)}: ${message}`);
  }
  return problems;
}

/**
 * Parses velocity.yml with `yaml` and validates it with the schema; every problem is reported at
 * once, with its path. The full path: loadProject() takes it when the quick one is unsure.
 */
export function parseProjectConfig(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): { config: ProjectConfig; remote: RemoteSettings; remoteVariables: ReadonlySet<string> } {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ProjectConfigError(file, doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0] ?? ''}`));
  }
  const { data, missing, referenced } = configData(doc.toJS(), file, env);
  const parsed = projectConfigSchema.safeParse(data);
  if (!parsed.success) throw new ProjectConfigError(file, formatIssues(parsed.error.issues));
  return { ...finishProjectConfig(parsed.data, missing, file), remoteVariables: referenced };
}
