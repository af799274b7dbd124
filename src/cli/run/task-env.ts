/**
 * What a task's command sees of the environment. A cached result may be replayed only for the
 * inputs that made it (DESIGN.md, "keys cannot lie"), so in strict mode (the default) a task
 * sees only: the variables in its `env` (which enter its key), the safe set below, and the
 * `pass_through_env` names of velocity.yml (global and per task), which do not enter the key.
 * Loose mode (`--env-mode=loose`) hands over the whole environment, as before, with a warning.
 * Either way Velocity's own variables (VC_*, and every variable the `remote` section names,
 * such as the token's) reach a task only when it declares them by exact name.
 */
export type EnvMode = 'strict' | 'loose';

export const ENV_MODES: readonly EnvMode[] = ['strict', 'loose'];

/**
 * Passed to every task without entering its key: what a shell and a toolchain need to find
 * programs, a home, a temp folder, the terminal and the locale, and the `CI` flag; on Windows
 * the system folders a process cannot start without. Names ending in `*` are prefixes. Chosen
 * after turborepo's default pass-through list, minus anything that changes what a build
 * produces (NODE_OPTIONS, NODE_ENV... belong in `env`) or may hold a secret (GITHUB_*, CI_*).
 */
export const SAFE_ENV: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'PWD',
  'TMPDIR', 'TMP', 'TEMP',
  'LANG', 'LANGUAGE', 'LC_*', 'TZ',
  'TERM', 'COLORTERM', 'TERM_PROGRAM', 'NO_COLOR', 'FORCE_COLOR',
  'CI',
  'XDG_RUNTIME_DIR', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME',
  // Windows: the shell (cmd.exe) and node need these to start at all.
  'SYSTEMROOT', 'SYSTEMDRIVE', 'WINDIR', 'COMSPEC', 'PATHEXT', 'USERPROFILE', 'APPDATA', 'LOCALAPPDATA',
  'PROGRAMDATA', 'PROGRAMFILES', 'PROGRAMFILES(X86)', 'COMMONPROGRAMFILES', 'NUMBER_OF_PROCESSORS', 'PROCESSOR_ARCHITECTURE',
];

export interface TaskEnvRules {
  mode: EnvMode;
  /** The task's `env`: in its key, and visible. */
  declared: readonly string[];
  /** Global and per-task `pass_through_env`: visible, not in the key. Prefixes end in `*`. */
  passThrough: readonly string[];
  /** Variables the `remote` section names: hidden unless declared or passed through by name. */
  secrets: ReadonlySet<string>;
  /** Windows compares variable names case-insensitively. */
  caseInsensitive: boolean;
}

type Matcher = (name: string) => boolean;

function matcher(patterns: readonly string[], fold: (s: string) => string): Matcher {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith('*')) prefixes.push(fold(p.slice(0, -1)));
    else exact.add(fold(p));
  }
  return (name) => {
    const n = fold(name);
    return exact.has(n) || prefixes.some((prefix) => n.startsWith(prefix));
  };
}

/** Velocity's own: the gateway's and worker's VC_* settings, and what `remote` expands. */
function ownMatcher(secrets: ReadonlySet<string>, fold: (s: string) => string): Matcher {
  const own = new Set([...secrets].map(fold));
  return (name) => fold(name).startsWith(fold('VC_')) || own.has(fold(name));
}

/** The environment a task's command gets, from `source` (the CLI's own environment). */
export function taskEnv(source: Readonly<Record<string, string | undefined>>, rules: TaskEnvRules): Record<string, string> {
  const fold = rules.caseInsensitive ? (s: string): string => s.toUpperCase() : (s: string): string => s;
  // Declared by exact name: the one way a task gets one of Velocity's own variables.
  const named = matcher([...rules.declared, ...rules.passThrough.filter((p) => !p.endsWith('*'))], fold);
  const visible = matcher([...rules.declared, ...rules.passThrough, ...SAFE_ENV], fold);
  const own = ownMatcher(rules.secrets, fold);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (named(name)) env[name] = value;
    else if (own(name)) continue;
    else if (rules.mode === 'loose' || visible(name)) env[name] = value;
  }
  return env;
}
