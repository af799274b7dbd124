import type { RouterMiddleware } from '@koa/router';
import type { Metrics } from '../../metrics/create-metrics.js';
import type { LocalDriver } from '../../storage/local/local-driver.js';
import { artifactRef, describeRef } from '../../storage/object-keys.js';
import { ArtifactNotFoundError } from '../../storage/errors.js';
import { parseRange } from '../range.js';
import type { GatewayState } from '../state.js';

/**
 * The local driver's object endpoints, reached through signed URLs it hands out. Each route hands
 * the query to the driver, which accepts exactly the parameters it signed for that kind of URL
 * and returns typed values (local-signed-urls.ts); nothing is read from the query here. Downloads
 * stream from disk in constant memory with single-range support; uploads stream to disk while the
 * length and digest are checked, and are published only when they match.
 */
export function localDownloadRoute(driver: LocalDriver, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = artifactRef(ctx.params.namespace, ctx.params.hash ?? '', ctx.params.space);
    // HEAD uses a GET URL, as with S3.
    driver.urls.checkDownload(ref, new URLSearchParams(ctx.querystring));
    const info = await driver.head(ref);
    if (!info) throw new ArtifactNotFoundError(describeRef(ref));
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
    const stream = await driver.get(ref, range);
    if (range) {
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${info.size}`);
    }
    const length = range ? range.end - range.start + 1 : info.size;
    ctx.length = length;
    ctx.res.once('finish', () => metrics.bytesStreamed.inc({ direction: 'out' }, length));
    ctx.body = stream.body;
  };
}

export function localUploadRoute(driver: LocalDriver, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = artifactRef(ctx.params.namespace, ctx.params.hash ?? '', ctx.params.space);
    const intent = driver.urls.checkUpload(ref, new URLSearchParams(ctx.querystring));
    const result = await driver.put(intent, ctx.req, ctx.state.signal);
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

export function localPartRoute(driver: LocalDriver, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const { namespace = '', hash = '', uploadId = '', part = '' } = ctx.params;
    const signed = driver.urls.checkPart(namespace, hash, uploadId, part, new URLSearchParams(ctx.querystring));
    const etag = await driver.putPart(signed.ref, signed.uploadId, signed.partNumber, ctx.req, ctx.state.signal);
    metrics.bytesStreamed.inc({ direction: 'in' }, Number(ctx.get('content-length')) || 0);
    ctx.status = 200;
    ctx.set('ETag', etag);
    ctx.body = '';
  };
}
