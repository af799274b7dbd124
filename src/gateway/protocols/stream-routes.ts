import type { Context, ParameterizedContext } from 'koa';
import type { Principal } from '../../auth/principal.js';
import { VelocityError } from '../../errors.js';
import type { GatewayState } from '../state.js';

/**
 * What the routes of the streamed protocols (Bazel, plain HTTP caches) share. A miss is part of
 * the protocol, not an error: it is answered here rather than thrown, so it is not logged as a
 * rejected request. Every one of these clients reads 404 as "not cached" and any 2xx on PUT as
 * "stored".
 */
export function answerMiss(ctx: Context): void {
  ctx.status = 404;
  ctx.body = { code: 'not_found', message: 'not in the cache' };
}

/** Stored, or already stored by an earlier writer (first write wins: those bytes stay). */
export function answerStored(ctx: Context): void {
  ctx.status = 200;
  ctx.body = '';
}

/** The principal protocolAuth put on the request (a route mounted without it is a wiring bug). */
export function principalOf(ctx: ParameterizedContext<GatewayState>): Principal {
  const p = ctx.state.principal;
  if (!p) throw new VelocityError('route reached without authentication', { status: 500, code: 'internal' });
  return p;
}
