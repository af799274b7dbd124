import { createHash, timingSafeEqual } from 'node:crypto';

/** Who may read `/metrics` (VC_METRICS_TOKEN), for the gateway's route and the worker's server. */
export interface ScrapeAuth {
  /** False when no token is configured: `/metrics` is open, as Prometheus expects by default. */
  readonly required: boolean;
  /** Whether an `Authorization` header value carries the metrics token. */
  allows(authorization: string | undefined): boolean;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Compares SHA-256 digests with timingSafeEqual: equal lengths whatever was sent, so neither the
 * token's content nor its length leaks through timing (the rule every Velocity token follows).
 */
export function scrapeAuth(token: string | undefined): ScrapeAuth {
  if (token === undefined) return { required: false, allows: () => true };
  const expected = digest(token);
  return {
    required: true,
    allows(authorization) {
      const given = BEARER.exec(authorization ?? '')?.[1];
      // A missing header is still compared, against an empty token, so it costs what a wrong one does.
      return timingSafeEqual(digest(given ?? ''), expected) && given !== undefined;
    },
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
