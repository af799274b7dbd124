import { ForbiddenError } from '../errors.js';

export const SCOPES = ['cache:read', 'cache:write', 'build:request', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling, as established by a verified token. */
export interface Principal {
  /** `static:<n>` for static tokens, the JWT `sub` otherwise. Safe to log. */
  readonly subject: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Scopes the token carried that Velocity does not know: they grant nothing (named in a 403). */
  readonly ignoredScopes?: readonly string[];
  /** `'*'` for every namespace. */
  readonly namespaces: '*' | ReadonlySet<string>;
  /** Epoch ms after which the credential is no longer valid; undefined for static tokens. */
  readonly expiresAt?: number | undefined;
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.has(scope) || p.scopes.has('admin');
}

export function requireScope(p: Principal, scope: Scope): void {
  if (hasScope(p, scope)) return;
  const ignored = p.ignoredScopes?.length ? ` (unknown scopes, which grant nothing: ${p.ignoredScopes.join(' ')})` : '';
  throw new ForbiddenError(`token lacks scope ${scope}${ignored}`);
}

export function canUseNamespace(p: Principal, namespace: string): boolean {
  return p.namespaces === '*' || p.namespaces.has(namespace);
}

export function requireNamespace(p: Principal, namespace: string): void {
  if (!canUseNamespace(p, namespace)) throw new ForbiddenError(`token may not use namespace ${namespace}`);
}
