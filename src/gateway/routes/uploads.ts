import type { Middleware } from 'koa';
import type { Negotiator } from '../../cache/negotiator.js';
import { abortRequestSchema, completeRequestSchema, parseOrThrow } from '../../cache/negotiation-schema.js';
import { readJsonBody } from '../json-body.js';
import type { GatewayState } from '../state.js';

/** POST /v1/uploads/complete: verify the parts, publish the artifact (first writer wins). */
export function completeUploadRoute(negotiator: Negotiator): Middleware<GatewayState> {
  return async (ctx) => {
    const req = parseOrThrow(completeRequestSchema, await readJsonBody(ctx));
    ctx.body = await negotiator.complete(ctx.state.principal!, req, ctx.state.signal);
  };
}

/** POST /v1/uploads/abort */
export function abortUploadRoute(negotiator: Negotiator): Middleware<GatewayState> {
  return async (ctx) => {
    const req = parseOrThrow(abortRequestSchema, await readJsonBody(ctx));
    await negotiator.abort(ctx.state.principal!, req, ctx.state.signal);
    ctx.body = { status: 'aborted' };
  };
}
