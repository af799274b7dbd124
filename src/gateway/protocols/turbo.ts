import { Router, type RouterContext, type RouterMiddleware } from '@koa/router';
import type { Middleware } from 'koa';
import { VelocityError } from '../../errors.js';
import type { ArtifactRef } from '../../storage/driver.js';
import { artifactRef } from '../../storage/object-keys.js';
import { respondWithError } from '../error-handler.js';
import { readJsonBody } from '../json-body.js';
import type { GatewayState } from '../state.js';
import { protocolAuth, protocolNamespace } from './client-auth.js';
import { canRedirect, lookupHit, redirectToStore } from './presigned-hit.js';
import type { ProtocolDeps } from './protocol-deps.js';
import { sendArtifact, setMiss } from './stream-download.js';
import { receiveArtifact } from './stream-upload.js';
import { queryHashes, turboHitHeaders, turboTag, turboTeam, turboUploadMeta } from './turbo-request.js';

type Ctx = RouterContext<GatewayState>;

/**
 * Every header Turborepo 2.x sends on artifact requests, listed for its `--preflight` OPTIONS
 * request. Turborepo sends `Authorization` only when this list names it, and a `*` would not
 * (a wildcard never covers `Authorization`, per the Fetch standard, and the client matches the name).
 */
export const TURBO_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'User-Agent',
  'x-artifact-duration',
  'x-artifact-tag',
  'x-artifact-sha',
  'x-artifact-dirty-hash',
  'x-artifact-client-ci',
  'x-artifact-client-interactive',
].join(', ');

/**
 * The Turborepo remote cache API (`/v8/artifacts`), in the `turbo` key space, one namespace per
 * team. Hits answer 302 to a presigned store URL, except artifacts uploaded with a signature tag
 * (the client must see `x-artifact-tag` on the answer itself, and a redirect loses it): those
 * stream. Uploads stream into the store (first write wins: a second upload of a hash succeeds
 * without replacing anything). What each status means to the client: docs/clients.md.
 */
export function turboRouter(deps: ProtocolDeps): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const auth = protocolAuth(deps.verifier);
  const errors = turboErrors();
  for (const path of ['/v8/artifacts', '/v8/artifacts/status', '/v8/artifacts/events', '/v8/artifacts/:hash']) {
    router.options(path, preflight());
  }
  router.get('/v8/artifacts/status', errors, auth, statusRoute());
  router.post('/v8/artifacts/events', errors, auth, eventsRoute());
  router.post('/v8/artifacts', errors, auth, queryRoute(deps));
  router.head('/v8/artifacts/:hash', errors, auth, headRoute(deps));
  router.get('/v8/artifacts/:hash', errors, auth, getRoute(deps));
  router.put('/v8/artifacts/:hash', errors, auth, putRoute(deps));
  return router;
}

function turboRef(ctx: Ctx, mode: 'read' | 'write'): ArtifactRef {
  const namespace = protocolNamespace(principal(ctx), turboTeam(ctx), mode);
  return artifactRef(namespace, ctx.params.hash ?? '', 'turbo');
}

function principal(ctx: Ctx): NonNullable<GatewayState['principal']> {
  const p = ctx.state.principal;
  if (!p) throw new Error('turbo routes run after protocolAuth');
  return p;
}

/**
 * A 403 in the shape Turborepo parses (`{"error": {"code", "message"}}`): with `forbidden` it
 * reports "Insufficient permissions to write to remote cache" and stops uploading for the run;
 * any other body would be an unparseable-JSON error. Other errors keep the gateway's shape (the
 * client only looks at their status).
 */
function turboErrors(): Middleware<GatewayState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!(err instanceof VelocityError) || err.status !== 403) throw err;
      respondWithError(ctx, err);
      const body: unknown = ctx.body;
      ctx.body = { error: body };
    }
  };
}

/** OPTIONS (`turbo --preflight`): the same URL (no `Location`), and the headers it may send. */
function preflight(): RouterMiddleware<GatewayState> {
  return (ctx) => {
    ctx.set('Access-Control-Allow-Methods', 'GET, HEAD, PUT, POST, OPTIONS');
    ctx.set('Access-Control-Allow-Headers', TURBO_ALLOWED_HEADERS);
    ctx.set('Access-Control-Max-Age', '600');
    ctx.status = 204;
  };
}

/** `enabled` when the token may read the team's namespace; `disabled` turns remote caching off for the run. */
function statusRoute(): RouterMiddleware<GatewayState> {
  return (ctx) => {
    let status: 'enabled' | 'disabled' = 'enabled';
    try {
      protocolNamespace(principal(ctx), turboTeam(ctx), 'read');
    } catch (err) {
      if (!(err instanceof VelocityError) || err.status !== 403) throw err;
      status = 'disabled';
    }
    ctx.body = { status };
  };
}

/** Usage events (HIT/MISS, LOCAL/REMOTE): accepted and dropped; the gateway counts hits itself. */
function eventsRoute(): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    protocolNamespace(principal(ctx), turboTeam(ctx), 'read');
    const events = await readJsonBody(ctx, 1024 * 1024);
    if (!Array.isArray(events)) throw new VelocityError('body must be an array of events', { status: 400, code: 'invalid_events' });
    ctx.status = 200;
    ctx.body = {};
  };
}

/** `POST /v8/artifacts`: size, duration and tag of each hash found, `null` for the others. */
function queryRoute(deps: ProtocolDeps): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const namespace = protocolNamespace(principal(ctx), turboTeam(ctx), 'read');
    const refs = queryHashes(await readJsonBody(ctx, 1024 * 1024)).map((hash) => artifactRef(namespace, hash, 'turbo'));
    const answer: Record<string, { size: number; taskDurationMs: number; tag?: string } | null> = {};
    // A few at a time: one query must not open hundreds of store requests at once.
    for (let i = 0; i < refs.length; i += 16) {
      const heads = await Promise.all(refs.slice(i, i + 16).map((ref) => deps.driver.head(ref, ctx.state.signal)));
      heads.forEach((handle, j) => {
        const ref = refs[i + j] as ArtifactRef;
        if (!handle) {
          answer[ref.hash] = null;
          return;
        }
        const tag = turboTag(handle.info);
        answer[ref.hash] = { size: handle.info.size, taskDurationMs: Number(handle.info.meta?.duration ?? 0), ...(tag ? { tag } : {}) };
      });
    }
    ctx.body = answer;
  };
}

function notFound(ctx: Ctx, deps: ProtocolDeps, ref: ArtifactRef, count: boolean): void {
  // HEAD and the batch query only look: counted neither as hit nor as miss.
  if (count) setMiss(ctx, deps, 'turbo', ref);
  else ctx.set('X-Cache', 'MISS');
  ctx.status = 404;
  ctx.body = { error: { code: 'not_found', message: 'artifact not found' } };
}

/** `HEAD` (turbo's `exists`): from the store's metadata, no bytes read. */
function headRoute(deps: ProtocolDeps): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = turboRef(ctx, 'read');
    const entry = await lookupHit(ctx, deps, ref);
    if (!entry) return notFound(ctx, deps, ref, false);
    ctx.set(turboHitHeaders(entry.info));
    ctx.set('X-Cache', 'HIT');
    ctx.type = 'application/octet-stream';
    ctx.status = 200;
    ctx.length = entry.info.size;
  };
}

function getRoute(deps: ProtocolDeps): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = turboRef(ctx, 'read');
    const entry = await lookupHit(ctx, deps, ref);
    if (!entry) return notFound(ctx, deps, ref, true);
    // A signed artifact needs its tag on this very answer: it streams. The others go to the store.
    if (turboTag(entry.info) === undefined && canRedirect(deps.driver) && (await redirectToStore(ctx, deps, entry, 'turbo'))) return;
    const sent = await sendArtifact(ctx, deps, ref, { protocol: 'turbo', headers: turboHitHeaders(entry.info) });
    if (!sent) notFound(ctx, deps, ref, true);
  };
}

/**
 * Streamed into the store with its duration and tag. 202 for a new artifact, 200 when the hash
 * was stored already (nothing replaced): both are success to the client, which only checks the
 * status class. Never a 3xx: Turborepo counts a redirected upload as stored.
 */
function putRoute(deps: ProtocolDeps): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = turboRef(ctx, 'write');
    const meta = turboUploadMeta(ctx);
    const { result } = await receiveArtifact(ctx, deps, ref, { protocol: 'turbo', meta });
    ctx.status = result === 'created' ? 202 : 200;
    ctx.body = { urls: [] };
  };
}
