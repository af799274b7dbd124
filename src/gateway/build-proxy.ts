import { Agent as HttpAgent, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import Router from '@koa/router';
import { createProxyServer, type ServerOptions } from 'http-proxy-3';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import type { BuildService } from '../builds/build-service.js';
import { readBuildBody } from './proxy-build-body.js';
import { deliverBuild } from './proxy-deliver-build.js';
import { applyForwarded, type TrustedProxies } from './proxy-forwarding.js';
import type { GatewayState } from './state.js';

export const VELOX_BUILD_HEADER = 'x-velox-build';

/** Hop-by-hop request headers (RFC 9110 §7.6.1) and those only this hop may act on. */
const REQUEST_HOP = ['connection', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'upgrade'];
/**
 * `Expect: 100-continue` is this hop's business: Node answered it (100 Continue) before the request
 * reached us, and the body is streamed upstream as it comes (undici refused the header: 502).
 */
const REQUEST_DROPPED = [...REQUEST_HOP, 'expect'];
const RESPONSE_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** What describes the intercepted JSON body, not the binary the client gets instead. */
const BODY_HEADERS = new Set(['content-length', 'content-type', 'content-encoding', 'content-range', 'etag', 'last-modified', 'location', VELOX_BUILD_HEADER]);

const UPSTREAM_IDLE_MS = 300_000;

/** Paths the gateway answers itself; everything else goes to the upstream. */
const OWN_PATHS = /^\/(v1\/|healthz$|readyz$|metrics$)/;

export interface BuildProxyDeps {
  readonly upstreamUrl: string;
  readonly service: BuildService;
  /** Seconds an intercepted client waits for its build (VC_BUILD_TIMEOUT); 504 past it. */
  readonly buildTimeout: number;
  /** Proxies whose X-Forwarded-* are kept (VC_TRUSTED_PROXIES); everyone else's are replaced. */
  readonly trusted: TrustedProxies;
  readonly logger: Logger;
  /** Largest intercepted BuildRequest body read, decoded (bytes). */
  readonly maxBuildRequestBytes?: number;
}

export interface BuildProxy {
  readonly router: () => Router<GatewayState>;
  /** The HTTP server's `upgrade` listener: WebSockets go to the upstream too. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly close: () => Promise<void>;
}

/**
 * Reverse proxy with interception (`VC_UPSTREAM_URL`), on http-proxy-3 (the maintained rewrite of
 * http-proxy: streaming both ways, WebSocket upgrades, path prefixes). Every upstream answer comes
 * back to us (`selfHandleResponse`): one carrying a non-empty `X-Velox-Build` is not passed on, its
 * BuildRequest is read and the client gets the binary (deliverBuild); any other is streamed through.
 */
export function buildProxy(deps: BuildProxyDeps): BuildProxy {
  const base = new URL(deps.upstreamUrl);
  const agent = base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const maxBytes = deps.maxBuildRequestBytes ?? 256 * 1024;
  // changeOrigin: the upstream sees its own host (as before); the client's is in X-Forwarded-Host.
  // proxyTimeout: an upstream silent for this long is given up (502), as undici's 300 s defaults
  // did before; it is inactivity, so a long stream that keeps moving is not cut.
  const proxy = createProxyServer({
    target: base,
    agent,
    xfwd: false,
    changeOrigin: true,
    selfHandleResponse: true,
    ws: true,
    proxyTimeout: UPSTREAM_IDLE_MS,
  });
  const answers = new WeakMap<IncomingMessage, (res: IncomingMessage) => void>();
  proxy.on('proxyRes', (res, req) => answers.get(req)?.(res));
  const sockets = new Set<Duplex>();

  const forward = (ctx: Context, extra: ServerOptions = {}): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      answers.set(ctx.req, resolve);
      proxy.web(ctx.req, ctx.res, extra, (err) => reject(err));
    });

  const handle: Middleware<GatewayState> = async (ctx, next) => {
    if (OWN_PATHS.test(ctx.path)) {
      await next();
      return;
    }
    prepareRequest(ctx.req, deps.trusted);
    let res: IncomingMessage;
    try {
      res = await forward(ctx);
      if (!intercepted(res.headers)) {
        passThrough(ctx, res);
        return;
      }
      if (ctx.method === 'HEAD') {
        // A HEAD answer has no body to hold the BuildRequest; HEAD means "GET without the body",
        // so the same answer asked as GET tells which binary this is.
        res.resume();
        res = await forward(ctx, { method: 'GET', buffer: Readable.from([]) });
        if (!intercepted(res.headers)) {
          passThrough(ctx, res);
          return;
        }
      }
    } catch (err) {
      if (ctx.state.signal.aborted) return;
      ctx.state.log.warn({ err: (err as Error).message }, 'upstream unreachable');
      ctx.status = 502;
      ctx.body = { code: 'upstream_unavailable', message: 'the upstream application did not answer' };
      return;
    }
    // Intercepted: read the BuildRequest (the upstream is released once it is read), keep the
    // upstream's own headers (cookies, Content-Disposition) for the answer.
    let body: unknown;
    try {
      body = await readBuildBody(res, maxBytes);
    } catch (err) {
      ctx.status = 502;
      ctx.body = { code: 'upstream_invalid_build', message: `upstream sent X-Velox-Build with an unusable body: ${(err as Error).message}` };
      return;
    }
    copyHeaders(ctx, res.headers, BODY_HEADERS);
    await deliverBuild(ctx, deps, body);
  };

  return {
    router: () => {
      const router = new Router<GatewayState>();
      router.all('/{*path}', handle);
      router.all('/', handle);
      return router;
    },
    upgrade: (req, socket, head) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (OWN_PATHS.test(path)) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      prepareRequest(req, deps.trusted);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      proxy.ws(req, socket, head, {}, (err) => {
        deps.logger.warn({ err: err.message }, 'WebSocket upstream failed');
        socket.destroy();
      });
    },
    close: () => {
      // Upgraded connections left the HTTP server: its close does not wait for them or end them.
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      return Promise.resolve();
    },
  };
}

/** The middleware intercepted any non-empty value, not only `true`. */
function intercepted(headers: IncomingHttpHeaders): boolean {
  const value = headers[VELOX_BUILD_HEADER];
  return (Array.isArray(value) ? value.join('') : (value ?? '')).trim() !== '';
}

function prepareRequest(req: IncomingMessage, trusted: TrustedProxies): void {
  const named = String(req.headers.connection ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase());
  const upgrading = req.headers.upgrade !== undefined && named.includes('upgrade');
  for (const name of named) if (name && !(upgrading && name === 'upgrade')) delete req.headers[name];
  for (const name of REQUEST_DROPPED) if (!(upgrading && (name === 'connection' || name === 'upgrade'))) delete req.headers[name];
  applyForwarded(req, trusted);
}

function passThrough(ctx: Context & { state: GatewayState }, res: IncomingMessage): void {
  ctx.status = res.statusCode ?? 502;
  copyHeaders(ctx, res.headers, new Set());
  const length = res.headers['content-length'];
  if (typeof length === 'string' && /^\d+$/.test(length)) ctx.length = Number(length);
  // Koa ends a HEAD (and a 204/304) without reading the body and destroys the stream once the
  // answer is finished; Koa listens for one 'error' only. The crash this prevents: a HEAD whose
  // upstream answer had a Content-Length (undici then emitted a second error, RequestAbortedError,
  // on a body nobody listened to any more, and the process died). A late upstream error only
  // cuts this one answer short.
  res.on('error', (err) => ctx.state.log.debug({ err: err.message }, 'upstream answer cut short'));
  ctx.body = res;
}

function copyHeaders(ctx: Context, headers: IncomingHttpHeaders, skip: ReadonlySet<string>): void {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || RESPONSE_HOP.has(name) || named.has(name) || skip.has(name)) continue;
    ctx.set(name, value);
  }
}
