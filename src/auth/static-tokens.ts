import { createHash, timingSafeEqual } from 'node:crypto';
import { SCOPES, type Principal } from './principal.js';

/**
 * Static bearer tokens with full access (VC_AUTH_TOKEN). Each candidate is compared against every
 * configured token through SHA-256 digests of equal length with timingSafeEqual, so neither the
 * content nor the length of a token leaks through timing.
 */
export class StaticTokens {
  private readonly digests: Buffer[];
  private readonly principals: Principal[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
    this.principals = tokens.map((_, i) => ({
      subject: `static:${i + 1}`,
      scopes: new Set(SCOPES),
      namespaces: '*' as const,
    }));
  }

  get size(): number {
    return this.digests.length;
  }

  match(token: string): Principal | undefined {
    const d = digest(token);
    let found: Principal | undefined;
    // No early exit: every configured token is compared.
    this.digests.forEach((candidate, i) => {
      if (timingSafeEqual(candidate, d)) found = this.principals[i];
    });
    return found;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
