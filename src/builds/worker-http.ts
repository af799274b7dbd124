import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ScrapeAuth } from '../metrics/scrape-auth.js';

/** One thing `/readyz` asks (Redis, the builder); a rejection is "not ready". */
export interface WorkerReadinessCheck {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}

export interface WorkerHttpDeps {
  readonly registry: Registry;
  readonly auth: ScrapeAuth;
  readonly checks: readonly WorkerReadinessCheck[];
  readonly draining: () => boolean;
  readonly logger: Logger;
  /** Longest a readiness check may take before it counts as a failure (VC_REDIS_TIMEOUT). */
  readonly checkTimeoutMs: number;
  /** What `/stats` shows (slots busy, builds done, recycled: Narya's `/debug/workers`). */
  readonly stats: () => unknown;
}

export interface WorkerHttpServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `velocity-worker`'s own HTTP server: `/healthz` (the process answers), `/readyz` (every check
 * passes and the worker is not draining), `/metrics` and `/stats` (behind VC_METRICS_TOKEN when
 * set). node:http rather than Koa: four fixed GET routes, nothing a framework would add.
 */
export async function startWorkerHttp(deps: WorkerHttpDeps, listen: { host: string; port: number }): Promise<WorkerHttpServer> {
  const readiness = readinessProbe(deps);
  const server = createServer((req, res) => {
    route(deps, readiness, req, res).catch((err: unknown) => {
      deps.logger.error({ err }, 'worker HTTP request failed');
      if (!res.headersSent) send(res, 500, { code: 'internal', message: 'internal error' });
      else res.destroy();
    });
  });
  // Probes and scrapes are small and quick; a client holding a socket open gets nothing from it.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

type Readiness = () => Promise<{ status: number; body: unknown }>;

async function route(deps: WorkerHttpDeps, readiness: Readiness, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics' && path !== '/stats') {
    send(res, 404, { code: 'not_found', message: 'the worker serves /healthz, /readyz, /metrics and /stats' });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, { code: 'method_not_allowed', message: `${req.method ?? ''} is not allowed` });
    return;
  }
  if (path === '/healthz') {
    send(res, 200, { status: 'ok' });
  } else if (path === '/readyz') {
    const { status, body } = await readiness();
    if (status !== 200) res.setHeader('Retry-After', '5');
    send(res, status, body);
  } else if (!deps.auth.allows(req.headers.authorization)) {
    // /stats names no secret, but what a worker is doing is for operators: the scrape token.
    res.setHeader('WWW-Authenticate', 'Bearer');
    send(res, 401, { code: 'unauthorized', message: `${path} needs the metrics token (VC_METRICS_TOKEN) as a bearer token` });
  } else if (path === '/stats') {
    send(res, 200, { draining: deps.draining(), ...(deps.stats() as object) });
  } else {
    const text = await deps.registry.metrics();
    res.writeHead(200, { 'Content-Type': deps.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  }
}

function readinessProbe(deps: WorkerHttpDeps): Readiness {
  let last = 'ready';
  return async () => {
    if (deps.draining()) return { status: 503, body: { status: 'draining' } };
    const signal = AbortSignal.timeout(deps.checkTimeoutMs);
    const results = await Promise.all(
      deps.checks.map(async (c) => {
        try {
          // Raced against the timeout too: a check that ignores its signal still cannot hang a probe.
          await Promise.race([c.check(signal), rejectOnAbort(signal, deps.checkTimeoutMs)]);
          return [c.name, 'ok'] as const;
        } catch (err) {
          return [c.name, (err as Error).message] as const;
        }
      }),
    );
    const failed = results.filter(([, r]) => r !== 'ok');
    // Logged when readiness changes, not at every probe: the reason is in the log, while the
    // answer (which a probe's caller may show anywhere) names no Redis address.
    const now = failed.length === 0 ? 'ready' : failed.map(([name, r]) => `${name}: ${r}`).join('; ');
    if (now !== last) deps.logger[failed.length === 0 ? 'info' : 'warn']({ readiness: now }, 'worker readiness changed');
    last = now;
    const checks = Object.fromEntries(results.map(([name, r]) => [name, r === 'ok' ? 'ok' : 'unavailable']));
    return { status: failed.length === 0 ? 200 : 503, body: { status: failed.length === 0 ? 'ready' : 'unavailable', checks } };
  };
}

function rejectOnAbort(signal: AbortSignal, ms: number): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new Error(`no answer within ${ms} ms`));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
