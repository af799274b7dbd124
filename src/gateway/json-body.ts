import type { Context } from 'koa';
import { VelocityError } from '../errors.js';

/** `application/json` and `application/<anything>+json`, with or without parameters. */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/** The parsed JSON body; 415 when the request does not say it is JSON. */
export function jsonBody(ctx: Context): unknown {
  // A plain test instead of ctx.is(): this runs on every negotiation.
  if (!JSON_TYPE.test(ctx.get('content-type'))) {
    throw new VelocityError('request body must be JSON (Content-Type: application/json)', {
      status: 415,
      code: 'unsupported_media_type',
    });
  }
  return (ctx.request as { body?: unknown }).body;
}
