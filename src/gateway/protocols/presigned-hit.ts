import type { Context } from 'koa';
import type { KnownKey } from '../../cache/known-keys.js';
import type { ArtifactRef, StorageDriver } from '../../storage/driver.js';
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
export async function redirectToStore(ctx: ProtocolContext, deps: ProtocolDeps, entry: KnownKey, protocol: ClientProtocol): Promise<boolean> {
  const presign = deps.driver.presign;
  if (!presign) return false;
  const { handle } = entry;
  const { request: url } = await deps.knownKeys.downloadUrl(entry, presign, deps.presignTtl, ctx.state.signal);
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

/**
 * What is stored for a protocol read, through the gateway's L1 of known keys: a key the store
 * confirmed less than VC_KNOWN_KEYS_TTL ago is answered without asking it again (as a negotiated
 * hit is); `null` on a miss. A store outage throws: never a miss.
 */
export function lookupHit(ctx: ProtocolContext, deps: ProtocolDeps, ref: ArtifactRef): Promise<KnownKey | null> {
  return deps.knownKeys.lookup(ref, (r) => deps.driver.head(r, ctx.state.signal));
}
