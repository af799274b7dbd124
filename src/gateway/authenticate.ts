import type { Middleware } from 'koa';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { GatewayState } from './state.js';

/** Puts the verified principal on `ctx.state`; 401 without a valid bearer token. */
export function authenticate(verifier: TokenVerifier): Middleware<GatewayState> {
  return async (ctx, next) => {
    ctx.state.principal = await verifier.verify(ctx.get('authorization') || undefined);
    await next();
  };
}
