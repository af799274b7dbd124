import { ENV_PATHS } from './schema.js';

/**
 * The `--help` epilogue of the gateway and the worker: every `VC_*` variable with its YAML key,
 * from the one table the loader reads (so the list cannot drift from what is accepted).
 * What each does is in the README's configuration table.
 */
export function envVariablesHelp(): string {
  const names = Object.keys(ENV_PATHS).sort();
  const width = Math.max(...names.map((n) => n.length));
  return [
    '',
    'Configuration: environment variables, or the same settings in a YAML file (--config FILE or',
    'VC_CONFIG) under the key shown; the environment wins. Sizes take units (64MiB), durations',
    'too (30s, 24h). What each does: README.md, "Configuration".',
    '',
    ...names.map((n) => `  ${n.padEnd(width)}  ${ENV_PATHS[n]}`),
    '',
  ].join('\n');
}
