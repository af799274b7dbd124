import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/create-metrics.js';
import type { GatewayState } from './state.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Request id (from `X-Request-Id` when it is sane), a child logger, an AbortSignal tied to the
 * client's connection, and one access-log line. The logged path has no query string: signed URL
 * parameters never reach the logs.
 */
export function requestContext(logger: Logger, metrics: Metrics): Middleware<GatewayState> {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    const controller = new AbortController();
    // The response closing before it finished means the client went away (the request's own
    // 'close' fires as soon as its body has been read, so it says nothing about the client).
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    ctx.state.requestId = requestId;
    ctx.state.signal = controller.signal;
    ctx.state.log = logger.child({ reqId: requestId });
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics.httpRequests.inc({ route: String(route), status_class: `${Math.floor(ctx.status / 100)}xx` });
      if (ctx.state.log.isLevelEnabled('debug') || ctx.status >= 500) {
        ctx.state.log[ctx.status >= 500 ? 'error' : 'debug'](
          { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) },
          'request',
        );
      }
    }
  };
}
