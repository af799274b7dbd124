import type { Context } from 'koa';
import { VelocityError } from '../errors.js';

/** The parsed JSON body; 415 when the request does not say it is JSON. */
export function jsonBody(ctx: Context): unknown {
  if (!ctx.is('application/json')) {
    throw new VelocityError('request body must be JSON (Content-Type: application/json)', {
      status: 415,
      code: 'unsupported_media_type',
    });
  }
  return (ctx.request as { body?: unknown }).body;
}
