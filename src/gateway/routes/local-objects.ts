import type { RouterMiddleware } from '@koa/router';
import type { Metrics } from '../../metrics/create-metrics.js';
import type { SelfServedFacet, StorageDriver } from '../../storage/driver.js';
import { artifactRef, describeRef } from '../../storage/object-keys.js';
import { ArtifactNotFoundError } from '../../storage/errors.js';
import { parseRange } from '../range.js';
import type { GatewayState } from '../state.js';

/** A store whose signed URLs point back at the gateway (the local driver). */
export type SelfServedStore = StorageDriver & { readonly selfServed: SelfServedFacet };

export function isSelfServed(store: StorageDriver): store is SelfServedStore {
  return store.selfServed !== undefined;
}

/**
 * The object endpoints of a self-served store, reached through signed URLs it hands out. Each
 * route hands the query to the store's facet, which accepts exactly the parameters it signed for
 * that kind of URL and returns typed values; nothing is read from the query here. Downloads
 * stream in constant memory with single-range support; uploads stream through the store's
 * `write`, which checks length and digest and publishes only what matches.
 *
 * A download here follows a negotiation that already counted the hit, so it is not counted again.
 */
export function localDownloadRoute(store: SelfServedStore, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = artifactRef(ctx.params.namespace, ctx.params.hash ?? '', ctx.params.space);
    // HEAD uses a GET URL, as with S3.
    store.selfServed.verifyDownload(ref, new URLSearchParams(ctx.querystring));
    const handle = await store.head(ref);
    if (!handle) throw new ArtifactNotFoundError(describeRef(ref));
    const { info } = handle;
    const range = parseRange(ctx.get('range') || undefined, info.size);
    ctx.set('Accept-Ranges', 'bytes');
    ctx.set('ETag', `"${info.sha256}"`);
    ctx.set('Cache-Control', 'private, max-age=31536000, immutable');
    ctx.type = 'application/octet-stream';
    if (range === 'unsatisfiable') {
      ctx.status = 416;
      ctx.set('Content-Range', `bytes */${info.size}`);
      ctx.body = { code: 'range_not_satisfiable', message: `size is ${info.size}` };
      return;
    }
    if (ctx.method === 'HEAD') {
      ctx.status = 200;
      ctx.length = info.size;
      return;
    }
    const stream = await store.openRead(handle, range);
    if (range) {
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${stream.info.size}`);
    }
    const length = range ? range.end - range.start + 1 : stream.info.size;
    ctx.length = length;
    ctx.res.once('finish', () => metrics.bytesStreamed.inc({ direction: 'out' }, length));
    ctx.body = stream.body;
  };
}

export function localUploadRoute(store: SelfServedStore, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = artifactRef(ctx.params.namespace, ctx.params.hash ?? '', ctx.params.space);
    const intent = store.selfServed.verifyUpload(ref, new URLSearchParams(ctx.querystring));
    const result = await store.write(intent, ctx.req, ctx.state.signal);
    if (result === 'exists') {
      ctx.status = 412;
      ctx.body = { code: 'artifact_exists', message: 'the artifact already exists; it is never overwritten' };
      return;
    }
    metrics.bytesStreamed.inc({ direction: 'in' }, intent.size);
    ctx.status = 200;
    ctx.set('ETag', `"${intent.sha256}"`);
    ctx.body = '';
  };
}

export function localPartRoute(store: SelfServedStore, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const { namespace = '', hash = '', uploadId = '', part = '' } = ctx.params;
    const signed = store.selfServed.verifyPart(namespace, hash, uploadId, part, new URLSearchParams(ctx.querystring));
    const etag = await store.selfServed.receivePart(signed, ctx.req, ctx.state.signal);
    metrics.bytesStreamed.inc({ direction: 'in' }, Number(ctx.get('content-length')) || 0);
    ctx.status = 200;
    ctx.set('ETag', etag);
    ctx.body = '';
  };
}
