import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { Agent, request } from 'undici';
import type { Principal } from '../auth/principal.js';
import type { BuildService } from '../builds/build-service.js';
import { VelocityError } from '../errors.js';
import type { GatewayState } from './state.js';

export const VELOX_BUILD_HEADER = 'x-velox-build';

/** Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded, nor our own bearer tokens' host. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/** Paths the gateway answers itself; everything else goes to the upstream. */
const OWN_PATHS = /^\/(v1\/|healthz$|readyz$|metrics$)/;

/** A BuildRequest from the upstream is trusted to ask for builds, not to force rebuilds. */
const UPSTREAM_PRINCIPAL: Principal = { subject: 'upstream', scopes: new Set(['build:request']), namespaces: '*' };

export interface BuildProxyDeps {
  readonly upstreamUrl: string;
  readonly service: BuildService;
  /** Seconds an intercepted client waits for its build (VC_BUILD_TIMEOUT); 504 past it. */
  readonly buildTimeout: number;
  /** Largest intercepted BuildRequest body read (bytes). */
  readonly maxBuildRequestBytes?: number;
}

/**
 * Reverse proxy with interception (`VC_UPSTREAM_URL`). An upstream answer carrying
 * `X-Velox-Build: true` and a BuildRequest body is not passed on: the upstream is released at
 * once, and the client is redirected to the binary, straight away on a hit or once the build is
 * done (504 past the build timeout). A client that disconnects stops waiting; the build is
 * cancelled only if nobody else waits for it.
 */
export function buildProxy(deps: BuildProxyDeps): { router: () => Router<GatewayState>; close: () => Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  const base = new URL(deps.upstreamUrl);
  const maxBytes = deps.maxBuildRequestBytes ?? 256 * 1024;

  const proxy: Middleware<GatewayState> = async (ctx, next) => {
    if (OWN_PATHS.test(ctx.path)) {
      await next();
      return;
    }
    const target = new URL(ctx.url, base);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(ctx.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    headers['x-forwarded-for'] = ctx.ip;
    headers['x-forwarded-proto'] = ctx.protocol;
    const hasBody = !['GET', 'HEAD'].includes(ctx.method);
    let res;
    try {
      res = await request(target, {
        method: ctx.method as 'GET',
        headers,
        body: hasBody ? ctx.req : null,
        dispatcher: agent,
        signal: ctx.state.signal,
      });
    } catch (err) {
      if (ctx.state.signal.aborted) return;
      ctx.state.log.warn({ err: (err as Error).message }, 'upstream unreachable');
      ctx.status = 502;
      ctx.body = { code: 'upstream_unavailable', message: 'the upstream application did not answer' };
      return;
    }
    if (String(res.headers[VELOX_BUILD_HEADER] ?? '').toLowerCase() !== 'true') {
      ctx.status = res.statusCode;
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) ctx.set(name, value);
      }
      const length = res.headers['content-length'];
      if (typeof length === 'string') ctx.length = Number(length);
      ctx.body = res.body;
      return;
    }
    // Intercepted: read the BuildRequest, and let the upstream go before the build starts.
    let body: unknown;
    try {
      const text = await readLimited(res.body, maxBytes);
      body = JSON.parse(text);
    } catch (err) {
      res.body.destroy();
      ctx.status = 502;
      ctx.body = { code: 'upstream_invalid_build', message: `upstream sent X-Velox-Build with an unusable body: ${(err as Error).message}` };
      return;
    }
    await deliverBuild(ctx, deps, body);
  };

  return {
    router: () => {
      const router = new Router<GatewayState>();
      router.all('/{*path}', proxy);
      router.all('/', proxy);
      return router;
    },
    close: () => agent.close(),
  };
}

async function deliverBuild(ctx: Context & { state: GatewayState }, deps: BuildProxyDeps, body: unknown): Promise<void> {
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

async function readLimited(body: AsyncIterable<unknown>, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) throw new Error(`body larger than ${maxBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
