import { PassThrough } from 'node:stream';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { UnauthorizedError } from '../../errors.js';
import type { Principal } from '../../auth/principal.js';
import type { BuildService } from '../../builds/build-service.js';
import type { BuildEvent } from '../../builds/build-queue.js';
import { readJsonBody } from '../json-body.js';
import type { GatewayState } from '../state.js';

export interface BuildRoutesDeps {
  readonly service: BuildService;
  /** Milliseconds between SSE keep-alive comments. */
  readonly keepAliveMs?: number;
}

function principalOf(state: GatewayState): Principal {
  if (!state.principal) throw new UnauthorizedError();
  return state.principal;
}

/**
 * `/v1/builds`: submit (hit 200, miss 202 + Location), status, SSE events, artifact redirect and
 * "stop waiting". Routes parse, call the build service, shape the answer.
 */
export function buildsRouter(deps: BuildRoutesDeps): (auth: Middleware<GatewayState>) => Router<GatewayState> {
  const { service } = deps;
  return (auth) => {
    const router = new Router<GatewayState>();

    router.post('/v1/builds', auth, async (ctx) => {
      const answer = await service.submit(await readJsonBody(ctx, 256 * 1024), principalOf(ctx.state));
      if (answer.status === 'found') {
        ctx.status = 200;
      } else {
        ctx.status = 202;
        ctx.set('Location', `/v1/builds/${answer.id}`);
      }
      ctx.body = answer;
    });

    router.get('/v1/builds/:id', auth, async (ctx) => {
      ctx.body = await service.status(ctx.params.id ?? '', principalOf(ctx.state));
    });

    router.get('/v1/builds/:id/artifact', auth, async (ctx) => {
      const where = await service.artifact(ctx.params.id ?? '', principalOf(ctx.state));
      if ('url' in where) {
        ctx.set('Cache-Control', 'no-store');
        ctx.redirect(where.url);
        return;
      }
      ctx.status = 409;
      ctx.body = { code: 'build_not_done', message: `build is ${where.state}`, status: where.state };
    });

    router.delete('/v1/builds/:id', auth, async (ctx) => {
      ctx.body = await service.leave(ctx.params.id ?? '', principalOf(ctx.state));
    });

    router.get('/v1/builds/:id/events', auth, async (ctx) => {
      const id = ctx.params.id ?? '';
      await service.status(id, principalOf(ctx.state)); // 403/404 before the stream starts
      const stream = new PassThrough();
      ctx.req.socket.setTimeout(0);
      ctx.req.socket.setNoDelay(true);
      ctx.status = 200;
      ctx.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
      ctx.body = stream;

      // Writes are chained so a state event (which may need a presign) never overtakes a log line.
      let chain = Promise.resolve();
      const send = (event: string, data: () => unknown) => {
        chain = chain
          .then(async () => {
            if (!stream.writableEnded) stream.write(`event: ${event}\ndata: ${JSON.stringify(await data())}\n\n`);
          })
          .catch(() => undefined);
      };
      const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), deps.keepAliveMs ?? 15_000);
      const onEvent = (event: BuildEvent) => {
        if (event.type === 'log') send('log', () => ({ lines: event.lines }));
        else send('state', () => service.answer(event.snapshot));
      };
      service
        .waitForFinish(id, ctx.state.signal, onEvent)
        .catch(() => undefined)
        .finally(() => {
          clearInterval(keepAlive);
          void chain.then(() => stream.end());
        });
    });

    return router;
  };
}
