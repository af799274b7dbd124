import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { ENV_PATHS, configSchema, type Config } from './schema.js';

export interface LoadConfigOptions {
  env: NodeJS.ProcessEnv;
  /** `--config FILE`; falls back to `VC_CONFIG`. */
  configFile?: string | undefined;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

async function readYaml(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`config file ${file}: ${(err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`config file ${file}: not valid YAML: ${(err as Error).message}`]);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError([`config file ${file}: the top level must be a mapping`]);
  }
  return doc as Record<string, unknown>;
}

/**
 * Precedence: defaults < YAML file < environment. Every problem is reported at once, each with
 * its dot path and, where it came from the environment, the variable's name.
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<Config> {
  const file = opts.configFile ?? opts.env.VC_CONFIG;
  const raw = file ? await readYaml(file) : {};
  const fromEnv = new Map<string, string>();
  for (const [name, path] of Object.entries(ENV_PATHS)) {
    const value = opts.env[name];
    if (value === undefined || value === '') continue;
    setPath(raw, path, value);
    fromEnv.set(path, name);
  }
  const unknownVc = Object.keys(opts.env).filter(
    (k) => k.startsWith('VC_') && !(k in ENV_PATHS) && !EXTRA_ENV.has(k),
  );
  const result = configSchema.safeParse(raw);
  const problems: string[] = unknownVc.map((k) => `${k}: unknown setting`);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join('.');
      const env = fromEnv.get(path);
      const where = path === '' ? '(root)' : path;
      problems.push(`${where}${env ? ` (${env})` : ''}: ${issue.message}`);
    }
  }
  problems.push(...crossFieldProblems(raw));
  if (problems.length > 0) throw new ConfigError(problems);
  return (result as { data: Config }).data;
}

/** `VC_*` names read elsewhere (not part of the gateway schema), so they are not flagged. */
const EXTRA_ENV: ReadonlySet<string> = new Set(['VC_CONFIG']);

function get(raw: Record<string, unknown>, path: string): unknown {
  let node: unknown = raw;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Rules across fields, checked on the raw input so they are listed with the schema's problems. */
function crossFieldProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (get(raw, 'storage.driver') === 's3' && !get(raw, 'storage.s3.bucket')) {
    problems.push('storage.s3.bucket (VC_S3_BUCKET): required when storage.driver is s3');
  }
  return problems;
}
