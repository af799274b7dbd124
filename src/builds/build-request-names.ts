/*
 * Velox reads its BuildRequest with protojson (connect-go's JSON codec), which accepts each field
 * under its proto name and its lowerCamelCase JSON name (`rr_version` and `rrVersion`), refuses
 * both at once ("duplicate field"), and reads `null` as the field's default (an empty list, an unset
 * message, "" or false). These rewrite a body to the proto names with nulls left out, so the schema
 * (and the build key) sees one form; anything else is left for the schema to judge.
 */

/** JSON name -> proto name, per message. Names that are the same in both forms are not listed. */
const TOP_LEVEL: Readonly<Record<string, string>> = {
  requestId: 'request_id',
  rrVersion: 'rr_version',
  forceRebuild: 'force_rebuild',
  targetPlatform: 'target_platform',
};
const PLUGIN: Readonly<Record<string, string>> = { moduleName: 'module_name' };
const NONE: Readonly<Record<string, string>> = {};

export interface NameProblem {
  readonly path: string;
  readonly message: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rename(obj: Record<string, unknown>, names: Readonly<Record<string, string>>, at: string, problems: NameProblem[]) {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    const proto = Object.hasOwn(names, key) ? (names[key] as string) : key;
    if (proto !== key && Object.hasOwn(obj, proto)) {
      problems.push({ path: `${at}${proto}`, message: `given twice (as ${proto} and ${key})` });
      continue;
    }
    if (value === null) continue;
    out[proto] = value;
  }
  return out;
}

/** A list longer than `maxItems` is left as it is: the schema refuses it by its size first. */
function items(v: unknown, names: Readonly<Record<string, string>>, at: string, maxItems: number, problems: NameProblem[]): unknown {
  if (!Array.isArray(v) || v.length > maxItems) return v;
  return v.map((item: unknown, i) => (isObject(item) ? rename(item, names, `${at}[${i}].`, problems) : item));
}

/** The body with proto field names and without nulls, and the fields given under both names. */
export function protoNames(body: unknown, maxItems: number): { body: unknown; problems: NameProblem[] } {
  if (!isObject(body)) return { body, problems: [] };
  const problems: NameProblem[] = [];
  const top = rename(body, TOP_LEVEL, '', problems);
  if (isObject(top.target_platform)) top.target_platform = rename(top.target_platform, NONE, 'target_platform.', problems);
  if ('plugins' in top) top.plugins = items(top.plugins, PLUGIN, 'plugins', maxItems, problems);
  if ('replaces' in top) top.replaces = items(top.replaces, NONE, 'replaces', maxItems, problems);
  if ('excludes' in top) top.excludes = items(top.excludes, NONE, 'excludes', maxItems, problems);
  return { body: top, problems };
}
