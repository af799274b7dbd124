import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedUrlClaims {
  readonly method: 'GET' | 'PUT';
  /** Path under `/v1/local/`, e.g. `artifacts/ns/hash`. */
  readonly path: string;
  /** Values the handler will enforce (size, digests, part number). */
  readonly params: Readonly<Record<string, string>>;
}

export type UrlCheck = { ok: true; params: Record<string, string> } | { ok: false; reason: string };

/**
 * Signed URLs for the local driver, served by the gateway itself: HMAC-SHA256 over the method,
 * the path, the expiry and every parameter the handler enforces. A URL is bound to one method and
 * one object; changing any part of it, or using it after `exp`, fails.
 */
export class LocalUrlSigner {
  constructor(
    private readonly secret: Buffer,
    private readonly baseUrl: () => string,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(method: string, path: string, exp: string, params: Readonly<Record<string, string>>): Buffer {
    const canonical = [method, path, exp, ...Object.keys(params).sort().map((k) => `${k}=${params[k]}`)].join('\n');
    return createHmac('sha256', this.secret).update(canonical).digest();
  }

  sign(claims: SignedUrlClaims, ttlSeconds: number): { url: string; expiresAt: Date } {
    const expMs = this.now() + ttlSeconds * 1000;
    const exp = String(Math.floor(expMs / 1000));
    const sig = this.mac(claims.method, claims.path, exp, claims.params).toString('base64url');
    const qs = new URLSearchParams({ ...claims.params, exp, sig });
    return { url: `${this.baseUrl()}/v1/local/${claims.path}?${qs.toString()}`, expiresAt: new Date(Number(exp) * 1000) };
  }

  verify(method: string, path: string, query: URLSearchParams): UrlCheck {
    const exp = query.get('exp');
    const sig = query.get('sig');
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return { ok: false, reason: 'missing signature' };
    const params: Record<string, string> = {};
    for (const [k, v] of query) if (k !== 'exp' && k !== 'sig') params[k] = v;
    const expected = this.mac(method, path, exp, params);
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'signature does not match' };
    }
    if (Number(exp) * 1000 < this.now()) return { ok: false, reason: 'URL expired' };
    return { ok: true, params };
  }
}
