import { createHash } from 'node:crypto';
import type { BuildRequest } from './build-request-schema.js';

/** Bumped whenever the canonical form changes, so old and new keys never collide. */
export const KEY_VERSION = 1;

/**
 * Every field that changes the binary, in one fixed shape and order (see docs/builds.md).
 * `request_id` (a per-call id) and `force_rebuild` (how, not what) are left out.
 */
export interface CanonicalBuildRequest {
  readonly key_version: number;
  readonly rr_version: string;
  readonly target_platform: { readonly os: string; readonly arch: string };
  readonly plugins: readonly { readonly module_name: string; readonly tag: string }[];
  readonly replaces: readonly { readonly old: string; readonly new: string }[];
  readonly excludes: readonly { readonly module: string; readonly version: string }[];
  readonly race: boolean;
  readonly debug: boolean;
}

/** Code-unit order, never locale order: the key must not depend on the host's settings. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedUnique<T>(items: readonly T[], fields: (item: T) => readonly string[]): T[] {
  const sorted = [...items].sort((x, y) => {
    const fx = fields(x);
    const fy = fields(y);
    for (let i = 0; i < fx.length; i++) {
      const c = compare(fx[i] ?? '', fy[i] ?? '');
      if (c !== 0) return c;
    }
    return 0;
  });
  return sorted.filter((item, i) => {
    const prev = sorted[i - 1];
    return prev === undefined || fields(prev).join('\0') !== fields(item).join('\0');
  });
}

/** The platform of a request without one, unless configured otherwise (VC_BUILD_DEFAULT_PLATFORM). */
export const DEFAULT_PLATFORM: { readonly os: string; readonly arch: string } = { os: 'linux', arch: 'amd64' };

/**
 * `defaultPlatform` fills a missing target_platform. Velox fills in its host's, which would make
 * the key depend on the server that builds: Velocity fills in a configured one, puts it in the key
 * (so omitting it and sending it give the same key) and sends it to Velox explicitly.
 */
export function canonicalRequest(req: BuildRequest, defaultPlatform = DEFAULT_PLATFORM): CanonicalBuildRequest {
  const platform = req.target_platform ?? defaultPlatform;
  // Objects are rebuilt field by field, so JSON.stringify's insertion order is the documented order.
  return {
    key_version: KEY_VERSION,
    rr_version: req.rr_version,
    target_platform: { os: platform.os, arch: platform.arch },
    plugins: sortedUnique(req.plugins, (p) => [p.module_name, p.tag]).map((p) => ({
      module_name: p.module_name,
      tag: p.tag,
    })),
    replaces: sortedUnique(req.replaces ?? [], (r) => [r.old, r.new]).map((r) => ({ old: r.old, new: r.new })),
    excludes: sortedUnique(req.excludes ?? [], (e) => [e.module, e.version]).map((e) => ({
      module: e.module,
      version: e.version,
    })),
    race: req.race ?? false,
    debug: req.debug ?? false,
  };
}

export function canonicalJson(canonical: CanonicalBuildRequest): string {
  return JSON.stringify(canonical);
}

/** The build key: lowercase hex SHA-256 of the canonical JSON (UTF-8). Also the artifact's hash. */
export function buildKey(canonical: CanonicalBuildRequest): string {
  return createHash('sha256').update(canonicalJson(canonical), 'utf8').digest('hex');
}

/** The Velox `BuildRequest` sent to a Velox server for a canonical request. */
export function toVeloxRequest(
  canonical: CanonicalBuildRequest,
  opts: { requestId: string; forceRebuild: boolean },
): Record<string, unknown> {
  return {
    request_id: opts.requestId,
    rr_version: canonical.rr_version,
    target_platform: canonical.target_platform,
    plugins: canonical.plugins,
    ...(canonical.replaces.length > 0 ? { replaces: canonical.replaces } : {}),
    ...(canonical.excludes.length > 0 ? { excludes: canonical.excludes } : {}),
    race: canonical.race,
    debug: canonical.debug,
    force_rebuild: opts.forceRebuild,
  };
}
