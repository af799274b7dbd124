import { json as parseJson } from 'co-body';
import type { Context } from 'koa';
import { VelocityError } from '../errors.js';

/** `application/json` and `application/<anything>+json`, with or without parameters. */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads and parses a JSON request body (co-body: size limit, charset, strict objects/arrays).
 * 415 when the request does not say it is JSON; a parse error is a 400 `invalid_json` and an
 * oversized body a 413 (see error-handler.ts). Called by the routes themselves rather than run as
 * one more middleware: this is on every negotiation.
 */
export async function readJsonBody(ctx: Context, limitBytes = 16 * 1024 * 1024): Promise<unknown> {
  if (!JSON_TYPE.test(ctx.get('content-type'))) {
    throw new VelocityError('request body must be JSON (Content-Type: application/json)', {
      status: 415,
      code: 'unsupported_media_type',
    });
  }
  // A number, not '16mb': the string would be parsed again on every request.
  return parseJson(ctx.req, { limit: limitBytes, strict: true });
}
