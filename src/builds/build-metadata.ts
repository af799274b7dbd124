import type { ArtifactInfo } from '../storage/driver.js';
import type { CanonicalBuildRequest } from './canonical-request.js';

/** Metadata values travel as headers: at most 1024 printable ASCII characters each. */
const MAX_VALUE_CHARS = 1024;
/** Who built and who asked: identities, kept short. */
const MAX_IDENTITY_CHARS = 256;

/** Who made a binary: recorded with it so a reader can tell a worker's build from anything else. */
export interface BuildProvenance {
  /** The worker process that built and uploaded it (`velocity-worker@host/pid/id`). */
  readonly builtBy: string;
  /** Subject of the token whose request started the build (`upstream` for proxy interceptions). */
  readonly requestedBy: string;
  readonly builder: 'velox' | 'command';
}

/**
 * Printable ASCII only (a JWT `sub` may hold anything): other characters are percent-encoded as
 * UTF-8, `%` itself too, so the value stays readable and unambiguous.
 */
export function headerSafe(value: string, max = MAX_IDENTITY_CHARS): string {
  const encoded = value.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  return encoded.slice(0, max);
}

/**
 * The Velox cache facts recorded with every binary, and who made it. `size`, `sha256` and
 * `created-at` are recorded by every driver for every artifact; these are the build's own (names
 * are header-safe, so `rr_version` is stored as `rr-version`, `build_duration_ms` as
 * `build-duration-ms`).
 */
export function buildMetadata(
  canonical: CanonicalBuildRequest,
  facts: { key: string; durationMs: number } & BuildProvenance,
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
    'built-by': headerSafe(facts.builtBy),
    'requested-by': headerSafe(facts.requestedBy),
    builder: facts.builder,
  };
}

/**
 * What a forced rebuild records besides the usual facts: that it was forced, and the SHA-256 of
 * the binary it replaced (empty when none was stored).
 */
export function forcedMetadata(replacedSha256: string): Record<string, string> {
  return { 'force-rebuild': 'true', ...(replacedSha256 === '' ? {} : { 'replaced-sha256': replacedSha256 }) };
}

/** The build facts as `POST /v1/builds` and `GET /v1/builds/{id}` show them (snake_case, as the API). */
export interface BuildFacts {
  readonly built_at: string;
  readonly built_by?: string;
  readonly requested_by?: string;
  readonly builder?: string;
  readonly rr_version?: string;
  readonly platform?: string;
  readonly plugins?: string;
  readonly plugins_truncated?: boolean;
  readonly race?: boolean;
  readonly debug?: boolean;
  readonly duration_ms?: number;
  readonly force_rebuild?: boolean;
  readonly replaced_sha256?: string;
}

/** Reads back what buildMetadata recorded; absent facts stay absent rather than guessed. */
export function buildFacts(info: ArtifactInfo): BuildFacts {
  const meta = info.meta ?? {};
  const text = (name: string) => (meta[name] === undefined ? {} : { [name.replace(/-/g, '_')]: meta[name] });
  const duration = Number(meta['build-duration-ms']);
  return {
    built_at: info.createdAt,
    ...text('built-by'),
    ...text('requested-by'),
    ...text('builder'),
    ...text('rr-version'),
    ...text('platform'),
    ...text('plugins'),
    ...(meta['plugins-truncated'] === 'true' ? { plugins_truncated: true } : {}),
    ...(meta.race === 'true' ? { race: true } : {}),
    ...(meta.debug === 'true' ? { debug: true } : {}),
    ...(meta['build-duration-ms'] !== undefined && Number.isFinite(duration) ? { duration_ms: duration } : {}),
    ...(meta['force-rebuild'] === 'true' ? { force_rebuild: true } : {}),
    ...text('replaced-sha256'),
  };
}
