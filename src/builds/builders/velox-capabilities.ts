import { request } from 'undici';
import { BuildFailure } from '../build-failure.js';
import type { CanonicalBuildRequest } from '../canonical-request.js';

/*
 * Which BuildRequest fields a Velox server knows. Velox exposes no version: its server mounts the
 * BuildService and gRPC reflection only (internal/cli/server/command.go: no health service, no
 * version header; `vx --version` is a CLI flag). Released servers (tags up to v2025.2-beta.2) know
 * fields 1-5 (request_id, rr_version, force_rebuild, target_platform, plugins); master (Velox v3,
 * commit 72ced78 "v3 modernization") added replaces (6), excludes (7), race (8) and debug (9) in one
 * change, and rejects Windows targets ("velox v3 does not support Windows targets").
 *
 * connect-go decodes JSON with `DiscardUnknown: true`, so a released server silently builds
 * without the fields it does not know. The probe asks the server's own validation instead: a
 * request that can never be built (empty `rr_version`, no plugins: "value is required") carrying
 * one empty `replaces` and `excludes` entry. protovalidate reports every violation, and a server
 * that knows field 6 names `replaces[0].new` among them; one that discarded it does not.
 */
export type VeloxGeneration = 'v3' | 'released';

export interface VeloxCapabilities {
  readonly generation: VeloxGeneration;
  /** What the probe saw, for logs and error messages. */
  readonly detail: string;
}

export const PROBE_BODY = JSON.stringify({
  rr_version: '',
  plugins: [],
  replaces: [{ old: '', new: '' }],
  excludes: [{ module: '', version: '' }],
});

const PROBE_TIMEOUT_MS = 10_000;

/** Reads the probe's answer. Anything but a validation answer naming `replaces[0]` is treated as released. */
export function capabilitiesFromProbe(status: number, text: string): VeloxCapabilities {
  let code = '';
  let message = '';
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not Connect JSON.
  }
  if (status >= 500 || status === 429) {
    throw new BuildFailure(`Velox capability probe: HTTP ${status} ${code}`.trim(), { code: 'builder_unavailable', retryable: true });
  }
  if (status === 404 && code === '') {
    throw new BuildFailure('no Velox BuildService there (HTTP 404 to /api.service.v1.BuildService/Build): check VC_VELOX_URL', {
      code: 'builder_rejected',
      retryable: false,
    });
  }
  if (status === 400 && code === 'invalid_argument') {
    return message.slice(0, 16 * 1024).includes('replaces[0]')
      ? { generation: 'v3', detail: 'validates replaces/excludes (request fields 1-9, Velox v3)' }
      : { generation: 'released', detail: 'discards replaces/excludes (request fields 1-5, a released Velox up to v2025.2-beta.2)' };
  }
  // A server without validation, or something else answering: never trust it with fields 6-9.
  return { generation: 'released', detail: `answered the probe with HTTP ${status} ${code}: treated as knowing request fields 1-5` };
}

/** Fields of a canonical request a server of this generation would silently drop, or refuse. */
export function unsupportedFields(canonical: CanonicalBuildRequest, caps: VeloxCapabilities): string[] {
  const out: string[] = [];
  if (caps.generation === 'released') {
    if (canonical.replaces.length > 0) out.push('replaces');
    if (canonical.excludes.length > 0) out.push('excludes');
    if (canonical.race) out.push('race');
    if (canonical.debug) out.push('debug');
  } else if (canonical.target_platform.os === 'windows') {
    out.push('target_platform.os=windows');
  }
  return out;
}

export function unsupportedFailure(origin: string, fields: readonly string[], caps: VeloxCapabilities): BuildFailure {
  const why =
    caps.generation === 'v3'
      ? 'Velox v3 does not build Windows targets'
      : `it ${caps.detail}, and would build without them`;
  return new BuildFailure(`unsupported by the Velox server at ${origin}: ${fields.join(', ')} (${why}); not built`, {
    code: 'unsupported_request',
    retryable: false,
  });
}

/**
 * Why the server behind `check` cannot build `canonical` as asked, or null. When it does not
 * answer within `waitMs`, null: the build is queued and the worker checks again before building.
 */
export async function refusal(check: VeloxCapabilityCheck, canonical: CanonicalBuildRequest, waitMs: number): Promise<string | null> {
  const caps = await check.get(AbortSignal.timeout(waitMs)).catch(() => undefined);
  const fields = caps ? unsupportedFields(canonical, caps) : [];
  return caps && fields.length > 0 ? unsupportedFailure(check.origin, fields, caps).message : null;
}

export interface CapabilityCheckOptions {
  /** The Build procedure's URL (the probe is a Build call that cannot build). */
  readonly endpoint: URL;
  /**
   * Probe again once an answer is this old. A worker needs none (it probes again after a
   * transport failure); a gateway, which never calls Velox otherwise, sets one.
   */
  readonly maxAgeMs?: number;
  readonly onResult?: (caps: VeloxCapabilities) => void;
}

/**
 * One probe shared by every build slot of a worker: made when the worker starts (its first
 * builder), kept while the server answers, and made again after a transport failure (the server
 * may have been replaced by another version while it was away).
 */
export class VeloxCapabilityCheck {
  private current: Promise<VeloxCapabilities> | undefined;
  private probedAt = 0;

  constructor(private readonly opts: CapabilityCheckOptions) {}

  get origin(): string {
    return this.opts.endpoint.origin;
  }

  /** The server's capabilities; `signal` stops this caller's wait, never the shared probe. */
  get(signal?: AbortSignal): Promise<VeloxCapabilities> {
    let pending = this.current;
    const stale = this.opts.maxAgeMs !== undefined && Date.now() - this.probedAt > this.opts.maxAgeMs;
    if (!pending || stale) {
      this.probedAt = Date.now();
      const made = this.probe();
      this.current = pending = made;
      // A failed probe is not kept: the next build probes again.
      made.catch(() => {
        if (this.current === made) this.current = undefined;
      });
    }
    if (!signal) return pending;
    return new Promise((resolve, reject) => {
      const stop = () => reject(signal.reason as Error);
      if (signal.aborted) return stop();
      signal.addEventListener('abort', stop, { once: true });
      void pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
    });
  }

  /** The server went away: ask again on the next build. */
  invalidate(): void {
    this.current = undefined;
  }

  private async probe(): Promise<VeloxCapabilities> {
    let res;
    try {
      res = await request(this.opts.endpoint, {
        method: 'POST',
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
        headers: {
          'content-type': 'application/json',
          'connect-protocol-version': '1',
          'connect-timeout-ms': String(PROBE_TIMEOUT_MS),
        },
        body: PROBE_BODY,
      });
    } catch (err) {
      throw new BuildFailure(`Velox at ${this.opts.endpoint.origin} unreachable: ${(err as Error).message}`, {
        code: 'builder_unavailable',
        retryable: true,
        cause: err,
      });
    }
    const text = await res.body.text();
    const caps = capabilitiesFromProbe(res.statusCode, text);
    this.opts.onResult?.(caps);
    return caps;
  }
}
