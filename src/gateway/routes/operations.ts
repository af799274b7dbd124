import type { Middleware } from 'koa';
import type { Registry } from 'prom-client';
import { UnauthorizedError, VelocityError } from '../../errors.js';
import { scrapeAuth, type ScrapeAuth } from '../../metrics/scrape-auth.js';
import type { StorageDriver } from '../../storage/driver.js';
import type { GatewayState } from '../state.js';

export function healthzRoute(): Middleware<GatewayState> {
  return (ctx) => {
    ctx.body = { status: 'ok' };
  };
}

export interface ReadinessCheck {
  readonly name: string;
  check(signal: AbortSignal): Promise<void>;
}

/** GET /readyz: 503 while draining or while any backend (store, queue) does not answer. */
export function readyzRoute(checks: readonly ReadinessCheck[], draining: () => boolean): Middleware<GatewayState> {
  return async (ctx) => {
    if (draining()) {
      ctx.status = 503;
      ctx.body = { status: 'draining' };
      return;
    }
    const signal = AbortSignal.timeout(5000);
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          await c.check(signal);
          return [c.name, 'ok'] as const;
        } catch (err) {
          // /readyz is unauthenticated: the detail (store address, bucket) goes to the log only.
          ctx.state.log.warn({ check: c.name, err: (err as Error).message }, 'not ready');
          return [c.name, err instanceof VelocityError ? err.clientMessage : 'unavailable'] as const;
        }
      }),
    );
    const ok = results.every(([, r]) => r === 'ok');
    ctx.status = ok ? 200 : 503;
    if (!ok) {
      ctx.state.logged = true;
      ctx.set('Retry-After', '5');
    }
    ctx.body = { status: ok ? 'ready' : 'unavailable', checks: Object.fromEntries(results) };
  };
}

export function storageReadiness(driver: StorageDriver): ReadinessCheck {
  return { name: 'storage', check: (signal) => driver.ping(signal) };
}

/** GET /metrics: the registry in Prometheus text format, behind VC_METRICS_TOKEN when one is set. */
export function metricsRoute(registry: Registry, auth: ScrapeAuth = scrapeAuth(undefined)): Middleware<GatewayState> {
  return async (ctx) => {
    if (!auth.allows(ctx.get('authorization') || undefined)) {
      throw new UnauthorizedError('/metrics needs the metrics token (VC_METRICS_TOKEN) as a bearer token');
    }
    ctx.set('Content-Type', registry.contentType);
    ctx.body = await registry.metrics();
  };
}

export interface CapabilitiesInfo {
  readonly presignTtl: number;
  readonly multipartThreshold: number;
  readonly multipartPartSize: number;
  readonly maxArtifactSize: number;
}

/** GET /v1/capabilities: what a client needs to know before it uploads. */
export function capabilitiesRoute(driver: StorageDriver, info: CapabilitiesInfo): Middleware<GatewayState> {
  const body = {
    driver: driver.name,
    integrity: driver.capabilities.digest,
    conditional_writes: driver.capabilities.conditionalWrites,
    multipart_threshold: info.multipartThreshold,
    multipart_part_size: info.multipartPartSize,
    max_artifact_size: info.maxArtifactSize,
    presign_ttl: info.presignTtl,
  };
  return (ctx) => {
    ctx.body = body;
  };
}
