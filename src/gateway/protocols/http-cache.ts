import { Router, type RouterContext } from '@koa/router';
import type { ArtifactRef } from '../../storage/driver.js';
import { artifactRef } from '../../storage/object-keys.js';
import type { GatewayState } from '../state.js';
import { protocolAuth, protocolNamespace } from './client-auth.js';
import { httpCacheHash } from './http-cache-key.js';
import type { ProtocolDeps } from './protocol-deps.js';
import { answerMiss, answerStored, principalOf } from './stream-routes.js';
import { sendArtifact, setMiss } from './stream-download.js';
import { receiveArtifact } from './stream-upload.js';

type Ctx = RouterContext<GatewayState>;

/** The key as the client wrote it in the path (not percent-decoded: see http-cache-key.ts). */
const RAW_KEY = /^(?:\/ns\/[^/]+)?\/http\/(.*)$/s;

/**
 * A plain HTTP cache: `GET`/`HEAD`/`PUT /http/{key}` and `/ns/{namespace}/http/{key}`, where the
 * key is any path of safe segments. Serves ccache's HTTP remote storage in each of its layouts
 * (`subdirs`: `{2 chars}/{rest}`, `flat`: `{key}`, `bazel`: `ac/{64 hex}`) and Gradle's HTTP
 * build cache (`{url}/{key}`, Basic auth whose password is the token).
 *
 * - Hits are streamed, never redirected: ccache cannot follow a redirect.
 * - A PUT of a key already stored answers 200 and keeps the first bytes (first write wins);
 *   ccache asks with HEAD before it writes, Gradle overwrites blindly and is told "stored".
 * - A body past the artifact size limit is 413, which Gradle reads as "not stored" and ccache as
 *   a failed write; neither fails the build. A miss is 404; an outage is 503 (never a miss), on
 *   which ccache compiles locally and Gradle disables the remote cache for the rest of the build.
 */
export function httpCacheRouter(deps: ProtocolDeps): Router<GatewayState> {
  const router = new Router<GatewayState>();
  const auth = protocolAuth(deps.verifier);

  const download = async (ctx: Ctx): Promise<void> => {
    const ref = httpRef(ctx, 'read');
    if (await sendArtifact(ctx, deps, ref, { protocol: 'http' })) return;
    setMiss(ctx, deps, 'http', ref);
    answerMiss(ctx);
  };

  const upload = async (ctx: Ctx): Promise<void> => {
    const ref = httpRef(ctx, 'write');
    await receiveArtifact(ctx, deps, ref, { protocol: 'http' });
    answerStored(ctx);
  };

  for (const prefix of ['/http', '/ns/:namespace/http']) {
    router.get(`${prefix}/*key`, auth, download);
    router.put(`${prefix}/*key`, auth, upload);
  }
  return router;
}

function httpRef(ctx: Ctx, mode: 'read' | 'write'): ArtifactRef {
  // The key is checked before the namespace: a bad key is the same 400 whoever asks.
  const hash = httpCacheHash(RAW_KEY.exec(ctx.path)?.[1] ?? '');
  const namespace = protocolNamespace(principalOf(ctx), ctx.params.namespace, mode);
  return artifactRef(namespace, hash, 'http');
}
