import type { ParameterizedContext } from 'koa';
import { ClientClosedRequestError, VelocityError } from '../errors.js';
import type { GatewayState } from './state.js';

interface HttpLikeError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  type?: string;
}

/**
 * The error boundary's answer (called by the one outer middleware, request-context.ts): known
 * errors become their status and `{code, message}` (the client's message: no store addresses or
 * keys); unknown ones a 500 with a generic body. Each failed request is logged once, here: 4xx at
 * warn, 5xx at error (with the stack only for the unexpected ones).
 */
export function respondWithError(ctx: ParameterizedContext<GatewayState>, err: unknown): void {
  const { status, code, message, headers } = describe(err);
  ctx.status = status;
  ctx.set(headers);
  ctx.body = { code, message };
  const where = { method: ctx.method, path: ctx.path, status, code };
  ctx.state.logged = true;
  if (err instanceof ClientClosedRequestError) ctx.state.log.debug(where, 'client went away');
  // An outage is one line with its cause's message: its stack says nothing the message does not.
  else if (status === 503 || status === 507) ctx.state.log.error({ ...where, err: (err as Error).message }, 'request failed');
  else if (status >= 500) ctx.state.log.error({ ...where, err }, 'request failed');
  else ctx.state.log.warn({ ...where, message }, 'request rejected');
}

/** A 404 with our error shape for requests no route took. */
export function respondNotFound(ctx: ParameterizedContext<GatewayState>): void {
  ctx.status = 404;
  ctx.body = { code: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` };
}

function describe(err: unknown): { status: number; code: string; message: string; headers: Record<string, string> } {
  if (err instanceof VelocityError) {
    return {
      status: err.status,
      code: err.code,
      message: err.clientMessage,
      headers: { ...err.headers },
    };
  }
  // Errors raised by Koa and its body parser follow the http-errors contract.
  const e = (err ?? {}) as HttpLikeError;
  const status = e.status ?? e.statusCode ?? 500;
  if (status >= 400 && status < 500 && e.expose !== false) {
    // The JSON body parser throws a SyntaxError carrying status 400.
    const code =
      err instanceof SyntaxError || e.type === 'entity.parse.failed'
        ? 'invalid_json'
        : e.type === 'entity.too.large'
          ? 'payload_too_large'
          : 'bad_request';
    const message = code === 'invalid_json' ? `request body is not valid JSON: ${e.message ?? ''}`.trim() : (e.message ?? 'bad request');
    return { status, code, message, headers: {} };
  }
  return { status: 500, code: 'internal', message: 'internal error', headers: {} };
}
