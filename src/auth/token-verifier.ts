import { LRUCache } from 'lru-cache';
import { UnauthorizedError } from '../errors.js';
import { JwtVerifier, type JwtVerifierOptions } from './jwt-verifier.js';
import type { Principal } from './principal.js';
import { StaticTokens } from './static-tokens.js';

export interface TokenVerifier {
  /** Throws UnauthorizedError (401) or ServiceUnavailableError (JWKS unreachable). */
  verify(authorization: string | undefined): Promise<Principal>;
}

export interface TokenVerifierOptions extends JwtVerifierOptions {
  readonly tokens: readonly string[];
  /** Verified JWTs remembered (bounded); a token is never trusted past its `exp`. */
  readonly cacheSize?: number;
  readonly now?: () => number;
}

/** Longest a verified JWT is remembered, even if it expires later (limits the effect of key rotation). */
const MAX_REMEMBER_MS = 5 * 60_000;

/**
 * Verified JWTs first (a JWT's principal is cached until the token expires, at most
 * MAX_REMEMBER_MS: signature checks cost 20-100 µs, which would dominate a cache hit), then static
 * tokens (compared in constant time), then JWT verification. Only verified JWTs are ever cached, so
 * bad tokens cannot fill the cache and a static token is never looked up in it.
 */
export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const statics = new StaticTokens(opts.tokens);
  const jwt = new JwtVerifier(opts);
  const now = opts.now ?? Date.now;
  const verified = new LRUCache<string, { principal: Principal; until: number }>({ max: opts.cacheSize ?? 10_000 });

  return {
    async verify(authorization) {
      const token = bearer(authorization);
      const t = now();
      const hit = verified.get(token);
      if (hit && hit.until > t) return hit.principal;
      const fromStatic = statics.match(token);
      if (fromStatic) return fromStatic;
      if (!jwt.enabled) throw new UnauthorizedError('unknown token');
      const principal = await jwt.verify(token);
      const until = Math.min(principal.expiresAt ?? Infinity, t + MAX_REMEMBER_MS);
      verified.set(token, { principal, until });
      return principal;
    },
  };
}

function bearer(header: string | undefined): string {
  if (!header) throw new UnauthorizedError('missing Authorization: Bearer <token>');
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m) throw new UnauthorizedError('Authorization must be "Bearer <token>"');
  return m[1] as string;
}
