import { describe, expect, it } from '@jest/globals';
import { principalFromClaims } from '../../../src/auth/jwt-claims.js';
import { UnauthorizedError } from '../../../src/errors.js';

/** The claim rules with an injected clock; the same rules over real HTTP are in test/security/auth-jwt-claims.test.ts. */
const NOW = 1_900_000_000;
const rules = { maxLifetimeSeconds: 3600, clockSkewSeconds: 30 };
const principal = (claims: Record<string, unknown>) => principalFromClaims(claims, rules, NOW * 1000);
const refusal = (claims: Record<string, unknown>): string => {
  try {
    principal(claims);
  } catch (err) {
    if (err instanceof UnauthorizedError) return err.message;
    throw err;
  }
  throw new Error('expected a 401');
};

describe('principalFromClaims', () => {
  it('bounds the lifetime by the configured maximum, with the skew only where the clock is ours', () => {
    expect(principal({ iat: NOW, exp: NOW + 3600 }).expiresAt).toBe((NOW + 3600) * 1000);
    expect(refusal({ iat: NOW, exp: NOW + 3601 })).toMatch(/lifetime 3601 s \(exp - iat\) exceeds the maximum of 3600 s/);
    expect(principal({ exp: NOW + 3600 + 30 }).expiresAt).toBeDefined();
    expect(refusal({ exp: NOW + 3600 + 31 })).toMatch(/exp - now/);
  });

  it('accepts iat up to the skew ahead, not further', () => {
    expect(principal({ iat: NOW + 30, exp: NOW + 60 }).scopes.size).toBe(0);
    expect(refusal({ iat: NOW + 31, exp: NOW + 60 })).toMatch(/claim iat is in the future/);
  });

  it('names the claim and what is wrong with it', () => {
    expect(refusal({})).toMatch(/claim exp is required/);
    expect(refusal({ exp: 'tomorrow' })).toMatch(/claim exp must be a NumericDate/);
    expect(refusal({ exp: NOW + 60, namespaces: 'a' })).toMatch(/claim namespaces must be "\*" or .*got a string/);
    expect(refusal({ exp: NOW + 60, namespaces: ['A'] })).toMatch(/claim namespaces/);
    expect(refusal({ exp: NOW + 60, scope: 7 })).toMatch(/claim scope .*got a number/);
  });

  it('keeps known scopes, sets unknown ones aside, reads namespaces as given', () => {
    const p = principal({ exp: NOW + 60, scope: 'cache:read  openid build:request', namespaces: ['a', 'b'], sub: 'ci' });
    expect([...p.scopes]).toEqual(['cache:read', 'build:request']);
    expect(p.ignoredScopes).toEqual(['openid']);
    expect(p.namespaces).toEqual(new Set(['a', 'b']));
    expect(p.subject).toBe('ci');
    expect(principal({ exp: NOW + 60, namespaces: ['a', '*'] }).namespaces).toBe('*');
    expect(principal({ exp: NOW + 60 }).namespaces).toEqual(new Set(['default']));
  });
});
