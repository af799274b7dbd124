import { json as parseJson } from 'co-body';
import type { Context } from 'koa';
import { VelocityError } from '../errors.js';
import { bodyReadError } from './body-errors.js';
import { wasCutForSlowness } from './slow-clients.js';

/** `application/json` and `application/<anything>+json`, with or without parameters. */
const JSON_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;

/**
 * Reads and parses a JSON request body (co-body: size limit, Content-Encoding, strict
 * objects/arrays). 415 when the request does not say it is UTF-8 JSON or uses an encoding we do
 * not decode; every failure to read the body is sorted in body-errors.ts (400, 408, 413, 415, 499),
 * never a 500. Called by the routes themselves rather than run as one more middleware: this is on
 * every negotiation. How long the body may take is a socket-level rule (slow-clients.ts): no timer here.
 */
export async function readJsonBody(ctx: Context, limitBytes = 16 * 1024 * 1024): Promise<unknown> {
  const type = ctx.get('content-type');
  if (!JSON_TYPE.test(type)) {
    throw new VelocityError('request body must be JSON (Content-Type: application/json)', {
      status: 415,
      code: 'unsupported_media_type',
    });
  }
  // RFC 8259 §8.1: JSON between systems is UTF-8. co-body would decode any charset as UTF-8.
  if (type.includes(';')) {
    const charset = CHARSET.exec(type)?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      throw new VelocityError(`request body must be UTF-8 JSON, not charset ${charset}`, {
        status: 415,
        code: 'unsupported_media_type',
      });
    }
  }
  try {
    // A number, not '16mb': the string would be parsed again on every request. With a
    // Content-Encoding the limit applies to the decoded bytes, so a small gzip bomb stops at it.
    return await parseJson(ctx.req, { limit: limitBytes, strict: true });
  } catch (err) {
    throw bodyReadError(err, ctx.get('content-encoding') || undefined, wasCutForSlowness(ctx.req));
  }
}
