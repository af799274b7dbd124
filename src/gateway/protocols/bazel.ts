import { Readable } from 'node:stream';
import { Router, type RouterContext } from '@koa/router';
import { BadRequestError, NotFoundError } from '../../errors.js';
import type { ArtifactRef, KeySpace } from '../../storage/driver.js';
import { artifactRef } from '../../storage/object-keys.js';
import type { GatewayState } from '../state.js';
import { MAX_ACTION_RESULT_SIZE, readCheckedActionResult } from './bazel-action-check.js';
import { protocolAuth, protocolNamespace } from './client-auth.js';
import type { ProtocolDeps } from './protocol-deps.js';
import { sendArtifact, setMiss } from './stream-download.js';
import { receiveArtifact, refuseEncodedBody } from './stream-upload.js';
import { answerMiss, answerStored, principalOf } from './stream-routes.js';

export interface BazelOptions {
  /**
   * Check each action result on PUT: every blob it names must be in the CAS of its namespace
   * (else 400, nothing stored). Default on.
   */
  readonly checkActionResults?: boolean;
}

/** Bazel's HTTP cache keys: lowercase hex SHA-256 (of the blob for `cas`, of the Action for `ac`). */
const SHA256_HEX = /^[a-f0-9]{64}$/;
const SPACES: Readonly<Record<string, KeySpace>> = { ac: 'bazel-ac', cas: 'bazel-cas' };

type Ctx = RouterContext<GatewayState>;

/**
 * Bazel's HTTP remote cache (`--remote_cache=http://host/bazel` or `.../ns/{namespace}/bazel`):
 * `GET`/`HEAD`/`PUT {prefix}/ac/{sha256}` (action results) and `{prefix}/cas/{sha256}` (blobs).
 *
 * - Bazel never follows a redirect (a 3xx is a failed read), so hits are always streamed.
 * - A CAS body is checked while it streams: its SHA-256 must be the key and its length the
 *   Content-Length (400 `integrity_mismatch`, nothing stored). Bazel uploads every output again
 *   on every miss; a key already stored answers 200 and keeps its bytes (first write wins).
 * - With `checkActionResults`, an action result is stored only when the blobs it names are.
 * - A miss is 404 (Bazel then runs the action); an outage is 503, which Bazel reports as a warning
 *   and builds without the cache.
 */
export function bazelRouter(deps: ProtocolDeps, opts: BazelOptions = {}): Router<GatewayState> {
  const checkActionResults = opts.checkActionResults ?? true;
  const router = new Router<GatewayState>();
  const auth = protocolAuth(deps.verifier);

  const download = async (ctx: Ctx): Promise<void> => {
    const ref = bazelRef(ctx, 'read');
    if (await sendArtifact(ctx, deps, ref, { protocol: 'bazel' })) return;
    setMiss(ctx, deps, 'bazel', ref);
    answerMiss(ctx);
  };

  const upload = async (ctx: Ctx): Promise<void> => {
    const ref = bazelRef(ctx, 'write');
    if (ref.space === 'bazel-cas') {
      await receiveArtifact(ctx, deps, ref, { protocol: 'bazel', sha256: ref.hash });
    } else if (checkActionResults) {
      await storeCheckedActionResult(ctx, deps, ref);
    } else {
      await receiveArtifact(ctx, deps, ref, { protocol: 'bazel' });
    }
    answerStored(ctx);
  };

  for (const prefix of ['/bazel', '/ns/:namespace/bazel']) {
    router.get(`${prefix}/:kind/:hash`, auth, download);
    router.put(`${prefix}/:kind/:hash`, auth, upload);
  }
  return router;
}

function bazelRef(ctx: Ctx, mode: 'read' | 'write'): ArtifactRef {
  const { kind = '', hash = '', namespace: fromUrl } = ctx.params;
  const space = SPACES[kind];
  if (!space) throw new NotFoundError(`no Bazel cache ${JSON.stringify(kind.slice(0, 16))}: use ac or cas`);
  if (!SHA256_HEX.test(hash)) throw new BadRequestError('a Bazel cache key is a lowercase hex SHA-256', 'invalid_key');
  const namespace = protocolNamespace(principalOf(ctx), fromUrl, mode);
  return artifactRef(namespace, hash, space);
}


/** The action result is small: read whole (bounded), checked against the CAS, then stored. */
async function storeCheckedActionResult(ctx: Ctx, deps: ProtocolDeps, ref: ArtifactRef): Promise<void> {
  refuseEncodedBody(ctx);
  const limit = Math.min(MAX_ACTION_RESULT_SIZE, deps.maxArtifactSize);
  const body = await readCheckedActionResult(ctx.req, deps.driver, ref, limit, ctx.state.signal);
  const outcome = await deps.driver.ingest({ ref, size: body.length, maxSize: limit }, Readable.from([body], { objectMode: false }), ctx.state.signal);
  if (outcome.result === 'created') deps.metrics.bytes('bazel', 'up', 'streamed', body.length);
}
