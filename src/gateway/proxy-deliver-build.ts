import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { Principal } from '../auth/principal.js';
import type { BuildService } from '../builds/build-service.js';
import { VelocityError } from '../errors.js';
import type { GatewayState } from './state.js';

/** A BuildRequest from the upstream is trusted to ask for builds, not to force rebuilds. */
const UPSTREAM_PRINCIPAL: Principal = { subject: 'upstream', scopes: new Set(['build:request']), namespaces: '*' };

export interface DeliverBuildDeps {
  readonly service: BuildService;
  /** Seconds an intercepted client waits for its build (VC_BUILD_TIMEOUT); 504 past it. */
  readonly buildTimeout: number;
}

/**
 * Answers an intercepted request with the binary the upstream asked for: a redirect straight away
 * on a hit, or once the build is done (504 past the build timeout, 502 when it failed). A client
 * that disconnects stops waiting; the build is cancelled only if nobody else waits for it.
 */
export async function deliverBuild(ctx: Context & { state: GatewayState }, deps: DeliverBuildDeps, body: unknown): Promise<void> {
  const { service } = deps;
  const waiter = `proxy:${randomUUID()}`;
  let answer;
  try {
    answer = await service.submit(body, UPSTREAM_PRINCIPAL, waiter);
  } catch (err) {
    // The upstream's request was bad, not the client's: a gateway error. Outages stay 503.
    if (err instanceof VelocityError && err.status >= 400 && err.status < 500) {
      ctx.status = 502;
      ctx.body = { code: 'upstream_invalid_build', message: `upstream sent an invalid build request: ${err.message}` };
      return;
    }
    throw err;
  }
  ctx.set('Cache-Control', 'no-store');
  if (answer.status === 'found') {
    ctx.set('X-Cache', 'HIT');
    ctx.redirect(answer.url);
    return;
  }
  ctx.set('X-Cache', 'MISS');
  ctx.req.socket.setTimeout(0);
  const deadline = AbortSignal.timeout(deps.buildTimeout * 1000);
  const signal = AbortSignal.any([ctx.state.signal, deadline]);
  let snapshot;
  try {
    snapshot = await service.waitForFinish(answer.id, signal);
  } catch (err) {
    // Stopped waiting: the client left, or the build took longer than the build timeout.
    await service.leave(answer.id, null, waiter).catch(() => undefined);
    if (ctx.state.signal.aborted) return;
    if (deadline.aborted) {
      ctx.status = 504;
      ctx.body = { code: 'build_timeout', message: `the build did not finish within ${deps.buildTimeout} s`, id: answer.id };
      return;
    }
    throw err;
  }
  await service.leave(answer.id, null, waiter).catch(() => undefined);
  if (snapshot?.state === 'done') {
    const status = await service.answer(snapshot);
    if (status.url) {
      ctx.redirect(status.url);
      return;
    }
  }
  ctx.status = 502;
  ctx.body = {
    code: 'build_failed',
    message: snapshot?.error ?? `build ${snapshot?.state ?? 'vanished'}`,
    id: answer.id,
    ...(snapshot?.logsTail.length ? { logs_tail: snapshot.logsTail } : {}),
  };
}

