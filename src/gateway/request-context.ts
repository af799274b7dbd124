import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/create-metrics.js';
import { storageOperationOf } from '../metrics/label-sets.js';
import { isStorageOutage } from '../storage/errors.js';
import { respondNotFound, respondWithError } from './error-handler.js';
import { RequestState, type GatewayState } from './state.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * The one outer middleware: request id (from `X-Request-Id` when it is sane), the per-request
 * state, the error boundary, `Connection: close` when the connection should not be reused, and,
 * at debug level or on a 5xx, one access-log line. The logged
 * path has no query string: signed URL parameters never reach the logs. (One middleware rather
 * than three: each layer costs a promise and a dispatch on every cache hit.)
 */
export function requestContext(logger: Logger, metrics: Metrics, draining: () => boolean): Middleware<GatewayState> {
  const counters = new Map<string, { inc(): void }>();
  const count = (route: string, statusClass: string): void => {
    const key = `${route} ${statusClass}`;
    let c = counters.get(key);
    if (!c) counters.set(key, (c = metrics.httpRequests.labels({ route, status_class: statusClass })));
    c.inc();
  };
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const requestId = given !== '' && REQUEST_ID.test(given) ? given : randomUUID();
    const state = new RequestState(requestId, logger, ctx.res);
    ctx.state = state;
    ctx.set('X-Request-Id', requestId);
    const debug = logger.isLevelEnabled('debug');
    const started = debug ? performance.now() : 0;
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) respondNotFound(ctx);
    } catch (err) {
      // Whatever a store call threw after the client left (an abort wrapped as a store error,
      // say) is the client's doing, not an outage.
      const answered = state.clientGone ?? err;
      respondWithError(ctx, answered);
      if (isStorageOutage(answered)) {
        const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
        metrics.storageErrors.inc({ operation: storageOperationOf(ctx.method, route) });
      }
    } finally {
      // Close the connection after this answer when draining (the client moves to another
      // replica) or when the body was not read to its end (401 before the body, say): otherwise
      // Node keeps reading and discarding it, for as long as a slow client cares to send it.
      if (!ctx.req.complete || draining()) ctx.set('Connection', 'close');
      // Route patterns, not paths: a bounded label set.
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      count(route, STATUS_CLASS[Math.floor(ctx.status / 100)] ?? 'other');
      // A failed request is logged once, where it failed; this is the access log of the rest.
      if (!state.logged && (debug || ctx.status >= 500)) {
        state.log[ctx.status >= 500 ? 'error' : 'debug'](
          { method: ctx.method, path: ctx.path, status: ctx.status, ...(debug ? { ms: Math.round(performance.now() - started) } : {}) },
          'request',
        );
      }
    }
  };
}
