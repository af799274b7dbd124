import type { JWTPayload } from 'jose';
import { z } from 'zod';
import { UnauthorizedError } from '../errors.js';
import { NAMESPACE_PATTERN } from '../storage/object-keys.js';
import { SCOPES, type Principal, type Scope } from './principal.js';

export interface ClaimRules {
  /** Longest a token may be valid: `exp - iat`, or `exp - now` when it has no `iat` (seconds). */
  readonly maxLifetimeSeconds: number;
  /** Clock difference tolerated between the issuer and this gateway (seconds). */
  readonly clockSkewSeconds: number;
}

const describeInput = (input: unknown): string =>
  input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input === 'string' ? 'a string' : `a ${typeof input}`;

const numericDate = (what: string) =>
  z.number({ error: (iss) => (iss.input === undefined ? `is required: ${what}` : `must be a NumericDate (seconds), got ${describeInput(iss.input)}`) });

/**
 * The claims Velocity reads, validated strictly: a claim of the wrong shape is an error naming the
 * claim, never a silent default (a `namespaces: "a"` once quietly became `default`). Claims we do
 * not read (`jti`, provider-specific ones) pass through untouched.
 */
const claimsSchema = z.looseObject({
  exp: numericDate('every token must expire'),
  iat: z.number({ error: (iss) => `must be a NumericDate (seconds), got ${describeInput(iss.input)}` }).optional(),
  sub: z.string({ error: (iss) => `must be a string, got ${describeInput(iss.input)}` }).min(1).max(256).optional(),
  scope: z
    .string({ error: (iss) => `must be a space-separated string of scopes, got ${describeInput(iss.input)}` })
    .max(2048, 'is longer than 2048 characters')
    .optional(),
  namespaces: z
    .union([z.literal('*'), z.array(z.union([z.literal('*'), z.string().regex(NAMESPACE_PATTERN)])).min(1).max(1000)], {
      error: (iss) =>
        `must be "*" or a non-empty array (at most 1000) of namespace names matching ${NAMESPACE_PATTERN.source}` +
        (Array.isArray(iss.input) ? '' : `, got ${describeInput(iss.input)}`),
    })
    .optional(),
});

/**
 * Turns a verified JWT payload into a Principal, or throws a 401 naming the claim that is wrong.
 * jose has already checked the signature, `iss`, `aud`, `nbf` and that `exp` is not past.
 *
 * - `exp` is required, and the token's lifetime is bounded, so a leaked token is not good for ever.
 * - `iat`, when present, may not be in the future (beyond the skew): such a token would stretch
 *   the lifetime rule.
 * - `scope`: unknown scopes are ignored (they grant nothing): an identity provider shared with other
 *   services puts its own scopes (`openid`, ...) in the same claim. A 403 names them, so a typo
 *   such as `cache:wirte` is easy to spot.
 * - `namespaces` absent: the `default` namespace only (documented); present, it must be well formed.
 */
export function principalFromClaims(payload: JWTPayload, rules: ClaimRules, nowMs: number): Principal {
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const claim = issue?.path.join('.') || 'claims';
    throw new UnauthorizedError(`invalid token: claim ${claim} ${issue?.message ?? 'is malformed'}`);
  }
  const claims = parsed.data;
  const now = nowMs / 1000;
  if (claims.iat !== undefined && claims.iat > now + rules.clockSkewSeconds) {
    throw new UnauthorizedError('invalid token: claim iat is in the future');
  }
  const lifetime = claims.iat !== undefined ? claims.exp - claims.iat : claims.exp - now - rules.clockSkewSeconds;
  if (lifetime > rules.maxLifetimeSeconds) {
    throw new UnauthorizedError(
      `invalid token: lifetime ${Math.round(lifetime)} s (exp - ${claims.iat !== undefined ? 'iat' : 'now'}) exceeds the maximum of ${rules.maxLifetimeSeconds} s`,
    );
  }
  const scopes = new Set<Scope>();
  const ignoredScopes: string[] = [];
  for (const s of (claims.scope ?? '').split(/\s+/)) {
    if (s === '') continue;
    if ((SCOPES as readonly string[]).includes(s)) scopes.add(s as Scope);
    else ignoredScopes.push(s);
  }
  const ns = claims.namespaces;
  return {
    subject: claims.sub ?? 'jwt',
    scopes,
    ...(ignoredScopes.length > 0 ? { ignoredScopes } : {}),
    namespaces: ns === undefined ? new Set(['default']) : ns === '*' || ns.includes('*') ? '*' : new Set(ns),
    expiresAt: claims.exp * 1000,
  };
}
