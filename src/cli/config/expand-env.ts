/**
 * `${NAME}` and `${NAME:-fallback}` expansion, applied to the `remote` section only. Commands are
 * never expanded: they are hashed as written, so keys match between machines, and the shell
 * expands them when (and only when) the task runs.
 */
export interface Expansion {
  value: string;
  /** Variables referenced without a fallback and not set (or empty). */
  missing: string[];
  /** Every variable referenced, set or not. */
  referenced: string[];
}

const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): Expansion {
  const missing: string[] = [];
  const referenced: string[] = [];
  const value = text.replace(REF, (_m, name: string, fallback: string | undefined) => {
    referenced.push(name);
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    missing.push(name);
    return '';
  });
  return { value, missing, referenced };
}

/**
 * Expands every string in a plain YAML value (objects, arrays), collecting what was missing and
 * every name referenced (Velocity's own variables: never handed to tasks undeclared).
 */
export function expandDeep(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  found: { missing: Map<string, string[]>; referenced: Set<string> },
  path: string,
): unknown {
  if (typeof value === 'string') {
    const r = expandEnv(value, env);
    if (r.missing.length > 0) found.missing.set(path, r.missing);
    for (const name of r.referenced) found.referenced.add(name);
    return r.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => expandDeep(v, env, found, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, expandDeep(v, env, found, `${path}.${k}`)]),
    );
  }
  return value;
}
