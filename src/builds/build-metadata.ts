import type { CanonicalBuildRequest } from './canonical-request.js';

/** Metadata values travel as headers: at most 1024 printable ASCII characters each. */
const MAX_VALUE_CHARS = 1024;

/**
 * The Velox cache facts recorded with every binary. `size`, `sha256` and `created-at` are recorded
 * by every driver for every artifact; these are the build's own (names are header-safe, so
 * `rr_version` is stored as `rr-version`, `build_duration_ms` as `build-duration-ms`).
 */
export function buildMetadata(
  canonical: CanonicalBuildRequest,
  facts: { key: string; durationMs: number },
): Record<string, string> {
  let plugins = canonical.plugins.map((p) => `${p.module_name}@${p.tag}`).join(',');
  const truncated = plugins.length > MAX_VALUE_CHARS;
  if (truncated) plugins = plugins.slice(0, MAX_VALUE_CHARS);
  return {
    'build-key': facts.key,
    'rr-version': canonical.rr_version,
    platform: `${canonical.target_platform.os}/${canonical.target_platform.arch}`,
    plugins,
    ...(truncated ? { 'plugins-truncated': 'true' } : {}),
    ...(canonical.race ? { race: 'true' } : {}),
    ...(canonical.debug ? { debug: 'true' } : {}),
    'build-duration-ms': String(Math.round(facts.durationMs)),
  };
}
