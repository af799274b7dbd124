import type { Context } from 'koa';
import type { ArtifactHandle, StorageDriver } from '../../storage/driver.js';
import type { GatewayState } from '../state.js';
import type { ClientProtocol, ProtocolDeps } from './protocol-deps.js';

type ProtocolContext = Context & { state: GatewayState };

/**
 * True when a hit can be answered with a redirect to the store: the store presigns, and its URLs
 * are the store's own. A self-served store (the local driver) would send the client back to this
 * gateway for the bytes, so those hits are streamed at once instead (one request, not two).
 */
export function canRedirect(driver: StorageDriver): boolean {
  return driver.presign !== undefined && driver.selfServed === undefined;
}

/**
 * Answers a hit with 302 to a presigned GET of exactly what `head()` found: the bytes go from
 * the store to the client, never through the gateway. The clients that get this (Turborepo, Nx)
 * follow redirects with reqwest, which drops `Authorization` when the host or port changes, so
 * the store sees only its own signature. `Cache-Control: no-store`: the URL expires, and a shared
 * cache between the client and the gateway must not hand it to anyone else. False (nothing
 * answered) when the store cannot give a URL such a client can follow: the caller streams.
 */
export async function redirectToStore(ctx: ProtocolContext, deps: ProtocolDeps, handle: ArtifactHandle, protocol: ClientProtocol): Promise<boolean> {
  const presign = deps.driver.presign;
  if (!presign) return false;
  const url = await presign.download(handle, deps.presignTtl, ctx.state.signal);
  // A URL that needs signed headers cannot be followed by a client that only sees a Location.
  if (Object.keys(url.headers).length > 0) return false;
  ctx.status = 302;
  ctx.set('Location', url.url);
  ctx.set('Cache-Control', 'no-store');
  ctx.set('X-Cache', 'HIT');
  ctx.body = '';
  deps.metrics.hit(protocol, handle.ref.namespace);
  deps.metrics.bytes(protocol, 'down', 'redirected', handle.info.size);
  deps.access.hit(handle.ref);
  return true;
}
