/**
 * Variables a build command gets from the worker's environment without being declared: enough
 * to find programs, a home and a temp directory, and the locale. Nothing else passes, so
 * VC_AUTH_TOKEN, VC_JWT_SECRET, AWS_* keys and whatever else the gateway or worker holds never
 * reach a command whose output (its stderr tail) any `build:request` token can read.
 */
export const SAFE_BUILD_ENV: readonly string[] = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ'];

/** What the build itself hands the command; these win over anything passed through. */
export interface BuildEnvInputs {
  /** Where the command writes the binary. */
  readonly output: string;
  /** The build's own directory (the output's parent). */
  readonly workDir: string;
  readonly key: string;
  readonly rrVersion: string;
  readonly os: string;
  readonly arch: string;
}

/**
 * The whole environment of a build command: the safe set and the declared names (`VC_BUILD_ENV`,
 * checked by the config schema: `VC_*` names are refused there) taken from `source` when set,
 * then the build's inputs.
 */
export function buildCommandEnv(
  source: Readonly<Record<string, string | undefined>>,
  declared: readonly string[],
  inputs: BuildEnvInputs,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...SAFE_BUILD_ENV, ...declared]) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  env.VELOCITY_OUTPUT = inputs.output;
  env.VELOCITY_WORK_DIR = inputs.workDir;
  env.VELOCITY_BUILD_KEY = inputs.key;
  env.VELOCITY_RR_VERSION = inputs.rrVersion;
  env.VELOCITY_TARGET_OS = inputs.os;
  env.VELOCITY_TARGET_ARCH = inputs.arch;
  return env;
}
