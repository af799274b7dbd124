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
 *
 * The logger and the signal are made on first use: a cache hit needs neither, and building them
 * for every request costs more than the rest of the hit path.
 */
export function requestContext(logger: Logger, metrics: Metrics): Middleware<GatewayState> {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    let log: Logger | undefined;
    let controller: AbortController | undefined;
    Object.defineProperties(ctx.state, {
      log: { get: () => (log ??= logger.child({ reqId: requestId })), configurable: true },
      signal: {
        get: () => {
          if (!controller) {
            const c = (controller = new AbortController());
            // The response closing before it finished means the client went away (the request's
            // own 'close' fires as soon as its body has been read, so it says nothing).
            ctx.res.once('close', () => {
              if (!ctx.res.writableFinished) c.abort(new Error('client disconnected'));
            });
          }
          return controller.signal;
        },
        configurable: true,
      },
    });
    ctx.set('X-Request-Id', requestId);
    const started = logger.isLevelEnabled('debug') ? performance.now() : 0;
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics.httpRequests.inc({ route: String(route), status_class: STATUS_CLASS[Math.floor(ctx.status / 100)] ?? 'other' });
      if (ctx.status >= 500 || started > 0) {
        ctx.state.log[ctx.status >= 500 ? 'error' : 'debug'](
          { method: ctx.method, path: ctx.path, status: ctx.status, ms: started > 0 ? Math.round(performance.now() - started) : undefined },
          'request',
        );
      }
    }
  };
}

const STATUS_CLASS: Record<number, string> = { 1: '1xx', 2: '2xx', 3: '3xx', 4: '4xx', 5: '5xx' };
