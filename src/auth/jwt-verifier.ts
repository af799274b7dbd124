import { webcrypto } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.js';
import { principalFromClaims, type ClaimRules } from './jwt-claims.js';
import type { Principal } from './principal.js';

export interface JwtVerifierOptions {
  /** HS256 shared secret. */
  readonly secret?: string | undefined;
  /** JWKS URL for asymmetric algorithms (e.g. a CI provider's OIDC tokens). */
  readonly jwksUrl?: string | undefined;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  /** Lifetime bound and clock skew (see jwt-claims.ts); 24 h and 30 s when not given. */
  readonly claimRules?: ClaimRules;
  /** Injected for tests. */
  readonly jwks?: JWTVerifyGetKey;
  readonly now?: () => number;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

const DEFAULT_RULES: ClaimRules = { maxLifetimeSeconds: 24 * 3600, clockSkewSeconds: 30 };

/**
 * Verifies JWTs with jose (signature, algorithm, `iss`, `aud`, `exp`, `nbf`), then the claims
 * Velocity reads (jwt-claims.ts): `exp` required, lifetime bounded, `scope` and `namespaces` well
 * formed. A token without `namespaces` may use only the `default` namespace; one without `scope`
 * can do nothing.
 */
export class JwtVerifier {
  private hmacKey: Promise<webcrypto.CryptoKey> | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly rules: ClaimRules;
  private readonly now: () => number;

  constructor(private readonly opts: JwtVerifierOptions) {
    this.rules = opts.claimRules ?? DEFAULT_RULES;
    this.now = opts.now ?? Date.now;
    if (opts.secret) {
      // An imported CryptoKey verifies about twice as fast as a raw secret.
      this.hmacKey = webcrypto.subtle.importKey('raw', Buffer.from(opts.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    }
    this.jwks = opts.jwks ?? (opts.jwksUrl ? createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000 }) : undefined);
  }

  get enabled(): boolean {
    return this.hmacKey !== undefined || this.jwks !== undefined;
  }

  async verify(token: string): Promise<Principal> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new UnauthorizedError('token is neither a configured static token nor a JWT');
    }
    const now = this.now();
    const common = {
      ...(this.opts.issuer ? { issuer: this.opts.issuer } : {}),
      ...(this.opts.audience ? { audience: this.opts.audience } : {}),
      currentDate: new Date(now),
      clockTolerance: this.rules.clockSkewSeconds,
    };
    let payload: JWTPayload;
    try {
      if (alg === 'HS256' && this.hmacKey) {
        ({ payload } = await jwtVerify(token, await this.hmacKey, { ...common, algorithms: ['HS256'] }));
      } else if (alg && ASYMMETRIC.includes(alg) && this.jwks) {
        ({ payload } = await jwtVerify(token, this.jwks, { ...common, algorithms: ASYMMETRIC }));
      } else {
        throw new UnauthorizedError(`JWT algorithm ${alg ?? 'none'} is not accepted here`);
      }
    } catch (err) {
      if (err instanceof UnauthorizedError) throw err;
      // A JWKS that cannot be fetched says nothing about the token: that is an outage, not a 401.
      if (isJwksOutage(err)) {
        throw new ServiceUnavailableError('cannot reach the JWKS endpoint to verify the token', { cause: err, code: 'auth_unavailable' });
      }
      throw new UnauthorizedError(`invalid token: ${describeJoseError(err)}`);
    }
    return principalFromClaims(payload, this.rules, now);
  }
}

/**
 * jose reports a JWKS it could not fetch as a timeout, a network TypeError, or a plain JOSEError
 * (non-200 answer, unparsable body); its subclasses are verdicts about the token itself.
 */
function isJwksOutage(err: unknown): boolean {
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return true;
  if (!(err instanceof errors.JOSEError)) return true;
  return err.constructor === errors.JOSEError && /JSON Web Key Set/.test(err.message);
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'expired';
  // jose's own wording names the claim and the check (`unexpected "iss" claim value`).
  if (err instanceof errors.JWTClaimValidationFailed) return err.message;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no matching key in the JWKS';
  return err instanceof errors.JOSEError ? err.code : 'malformed';
}
