import { Router, type RouterContext, type RouterMiddleware } from '@koa/router';
import { PayloadTooLargeError } from '../../errors.js';
import type { ArtifactRef } from '../../storage/driver.js';
import { isStorageOutage } from '../../storage/errors.js';
import { artifactRef } from '../../storage/object-keys.js';
import type { GatewayState } from '../state.js';
import { protocolAuth, protocolNamespace } from './client-auth.js';
import { nxHash } from './nx-request.js';
import { canRedirect, lookupHit, redirectToStore } from './presigned-hit.js';
import type { ProtocolDeps } from './protocol-deps.js';
import { sendArtifact, setMiss } from './stream-download.js';
import { receiveArtifact } from './stream-upload.js';
import { discardBody } from './nx-discard.js';

type Ctx = RouterContext<GatewayState>;

/**
 * Nx's self-hosted remote cache (`NX_SELF_HOSTED_REMOTE_CACHE_SERVER`), in the `nx` key space:
 * `{server}/v1/cache/{hash}`, with the namespace in the server URL (`http://host/ns/{namespace}`)
 * or taken from the token.
 *
 * Nx 24 fails the task on any status it does not expect: GET knows 200 (hit) and 404 (miss); PUT
 * knows 200 (stored), 409 (exists) and 403 (not allowed to store). So a store outage, which the
 * native API answers 503, is answered here as the client's own "nothing to use": a miss on GET,
 * "not stored" (403) on PUT, each with `code: storage_unavailable` in the body, counted in
 * `vc_storage_errors_total` and logged, and never counted or remembered as a miss. A cache that
 * cannot answer then costs the run its cache, never the run. What each status means: docs/clients.md.
 */
export function nxRouter(deps: ProtocolDeps): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const auth = protocolAuth(deps.verifier);
  for (const prefix of ['', '/ns/:namespace']) {
    router.get(`${prefix}/v1/cache/:hash`, auth, getRoute(deps));
    router.put(`${prefix}/v1/cache/:hash`, auth, putRoute(deps));
  }
  return router;
}

function nxRef(ctx: Ctx, mode: 'read' | 'write'): ArtifactRef {
  const principal = ctx.state.principal;
  if (!principal) throw new Error('nx routes run after protocolAuth');
  const hash = nxHash(ctx.params.hash);
  return artifactRef(protocolNamespace(principal, ctx.params.namespace, mode), hash, 'nx');
}

function getRoute(deps: ProtocolDeps): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = nxRef(ctx, 'read');
    try {
      const entry = await lookupHit(ctx, deps, ref);
      if (entry && canRedirect(deps.driver) && (await redirectToStore(ctx, deps, entry, 'nx'))) return;
      if (entry && (await sendArtifact(ctx, deps, ref, { protocol: 'nx' }))) return;
      setMiss(ctx, deps, 'nx', ref);
      ctx.status = 404;
      ctx.body = { code: 'artifact_not_found', message: 'no artifact for this hash' };
    } catch (err) {
      if (!isStorageOutage(err) || ctx.headerSent) throw err;
      outage(ctx, deps, err, 'download');
      ctx.set('X-Cache', 'MISS');
      ctx.status = 404;
    }
  };
}

/** 200 stored, 409 stored before (nothing replaced), 403 not stored (read-only token, too large, store outage). */
function putRoute(deps: ProtocolDeps): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = nxRef(ctx, 'write');
    try {
      const { result } = await receiveArtifact(ctx, deps, ref, { protocol: 'nx' });
      ctx.status = result === 'created' ? 200 : 409;
      ctx.body = result === 'created' ? '' : { code: 'artifact_exists', message: 'the artifact already exists; it is never overwritten' };
    } catch (err) {
      if (err instanceof PayloadTooLargeError) {
        await discardBody(ctx, deps.maxArtifactSize);
        ctx.state.log.warn({ method: ctx.method, path: ctx.path, message: err.message }, 'nx upload refused');
        ctx.status = 403;
        ctx.body = { code: err.code, message: err.clientMessage };
        return;
      }
      if (!isStorageOutage(err)) throw err;
      await discardBody(ctx, deps.maxArtifactSize);
      outage(ctx, deps, err, 'upload');
      ctx.status = 403;
    }
  };
}

function outage(ctx: Ctx, deps: ProtocolDeps, err: Error & { code: string; clientMessage: string }, operation: 'upload' | 'download'): void {
  deps.metrics.storageError(operation);
  ctx.state.logged = true;
  ctx.state.log.error({ method: ctx.method, path: ctx.path, code: err.code, err: err.message }, 'store outage answered in nx terms');
  ctx.body = { code: err.code, message: err.clientMessage };
}
