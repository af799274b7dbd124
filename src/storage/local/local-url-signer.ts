import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedUrlClaims {
  readonly method: 'GET' | 'PUT';
  /** Path under `/v1/local/`, e.g. `artifacts/ns/hash`. */
  readonly path: string;
  /** Values the handler will enforce (size, digests, key space). */
  readonly params: Readonly<Record<string, string>>;
}

/** The exact parameters one kind of URL carries besides `exp` and `sig`. */
export interface ParamShape {
  readonly required: readonly string[];
  readonly optional?: readonly string[];
  /** Names matching this are also allowed (e.g. `meta-<name>`). */
  readonly extra?: RegExp;
}

export type UrlCheck = { ok: true; params: Record<string, string> } | { ok: false; reason: string };

/** Names every value, so no choice of values can make two different claims sign the same bytes. */
const DOMAIN = 'velocity-local-url-v2';

/**
 * Signed URLs for the local driver, served by the gateway itself: HMAC-SHA256 over the method,
 * the path, the expiry and every parameter the handler enforces. A URL is bound to one method and
 * one object; changing any part of it, or using it after `exp`, fails.
 *
 * The signed string is the JSON array of those values (parameters as sorted [name, value] pairs):
 * JSON escapes every separator, so no value can carry another parameter. (The first version
 * joined `k=v` lines with `\n`, and `sha256=<hex>%0Asize%3D10` verified with `size` gone.) A URL
 * must carry exactly the parameters of its kind, each once: unknown, repeated or missing ones are
 * refused before the MAC is even computed.
 */
export class LocalUrlSigner {
  constructor(
    private readonly secret: Buffer,
    private readonly baseUrl: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(method: string, path: string, exp: string, params: Readonly<Record<string, string>>): Buffer {
    const pairs = Object.keys(params)
      .sort()
      .map((k) => [k, params[k]]);
    return createHmac('sha256', this.secret).update(JSON.stringify([DOMAIN, method, path, exp, pairs])).digest();
  }

  sign(claims: SignedUrlClaims, ttlSeconds: number): { url: string; expiresAt: Date } {
    const expMs = this.now() + ttlSeconds * 1000;
    const exp = String(Math.floor(expMs / 1000));
    const sig = this.mac(claims.method, claims.path, exp, claims.params).toString('base64url');
    const qs = new URLSearchParams({ ...claims.params, exp, sig });
    return { url: `${this.baseUrl()}/v1/local/${claims.path}?${qs.toString()}`, expiresAt: new Date(Number(exp) * 1000) };
  }

  verify(method: string, path: string, query: URLSearchParams, shape: ParamShape): UrlCheck {
    const params: Record<string, string> = {};
    let exp: string | undefined;
    let sig: string | undefined;
    const seen = new Set<string>();
    for (const [k, v] of query) {
      if (seen.has(k)) return { ok: false, reason: `parameter ${k} appears more than once` };
      seen.add(k);
      if (k === 'exp') exp = v;
      else if (k === 'sig') sig = v;
      else if (shape.required.includes(k) || shape.optional?.includes(k) || shape.extra?.test(k)) params[k] = v;
      else return { ok: false, reason: `unexpected parameter ${k}` };
    }
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return { ok: false, reason: 'missing signature' };
    const missing = shape.required.find((k) => !Object.hasOwn(params, k));
    if (missing) return { ok: false, reason: `missing parameter ${missing}` };
    const expected = this.mac(method, path, exp, params);
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'signature does not match' };
    }
    if (Number(exp) * 1000 < this.now()) return { ok: false, reason: 'URL expired' };
    return { ok: true, params };
  }
}
