import type { Middleware } from 'koa';
import type { Negotiator } from '../../cache/negotiator.js';
import { batchRequestSchema, negotiateRequestSchema, parseOrThrow } from '../../cache/negotiation-schema.js';
import { readJsonBody } from '../json-body.js';
import type { GatewayState } from '../state.js';

/** POST /v1/negotiate */
export function negotiateRoute(negotiator: Negotiator): Middleware<GatewayState> {
  return async (ctx) => {
    const req = parseOrThrow(negotiateRequestSchema, await readJsonBody(ctx));
    ctx.body = await negotiator.negotiate(ctx.state.principal!, req, () => ctx.state.signal);
  };
}

/** POST /v1/negotiate/batch: answers in request order, errors per item. */
export function negotiateBatchRoute(negotiator: Negotiator): Middleware<GatewayState> {
  return async (ctx) => {
    const { items } = parseOrThrow(batchRequestSchema, await readJsonBody(ctx), 'bad_batch');
    ctx.body = { results: await negotiator.batch(ctx.state.principal!, items, () => ctx.state.signal) };
  };
}
