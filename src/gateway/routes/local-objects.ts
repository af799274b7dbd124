import type { RouterContext, RouterMiddleware } from '@koa/router';
import type { Metrics } from '../../metrics/create-metrics.js';
import { VelocityError } from '../../errors.js';
import type { LocalDriver } from '../../storage/local/local-driver.js';
import { artifactKey, artifactRef, describeRef } from '../../storage/object-keys.js';
import { ArtifactNotFoundError } from '../../storage/errors.js';
import { parseRange } from '../range.js';
import type { GatewayState } from '../state.js';

class SignatureError extends VelocityError {
  constructor(reason: string) {
    super(`signed URL rejected: ${reason}`, { status: 403, code: 'signature_rejected' });
  }
}

function verified(ctx: RouterContext<GatewayState>, driver: LocalDriver, method: 'GET' | 'PUT', path: string): Record<string, string> {
  const check = driver.signer.verify(method, path, new URLSearchParams(ctx.querystring));
  if (!check.ok) throw new SignatureError(check.reason);
  return check.params;
}

/**
 * The local driver's object endpoints, reached through signed URLs it hands out. Downloads stream
 * from disk in constant memory with single-range support; uploads stream to disk while the length
 * and digest are checked, and are published only when they match.
 */
export function localDownloadRoute(driver: LocalDriver, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = artifactRef(ctx.params.namespace, ctx.params.hash ?? '', ctx.params.space);
    // HEAD uses a GET URL, as with S3.
    verified(ctx, driver, 'GET', artifactKey(ref));
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
    const params = verified(ctx, driver, 'PUT', artifactKey(ref));
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (k.startsWith('meta-')) meta[k.slice(5)] = v;
    const result = await driver.put(
      { ref, size: Number(params.size), sha256: params.sha256 as string, md5: params.md5, meta },
      ctx.req,
      ctx.state.signal,
    );
    if (result === 'exists') {
      ctx.status = 412;
      ctx.body = { code: 'artifact_exists', message: 'the artifact already exists; it is never overwritten' };
      return;
    }
    metrics.bytesStreamed.inc({ direction: 'in' }, Number(params.size));
    ctx.status = 200;
    ctx.set('ETag', `"${params.sha256}"`);
    ctx.body = '';
  };
}

export function localPartRoute(driver: LocalDriver, metrics: Metrics): RouterMiddleware<GatewayState> {
  return async (ctx) => {
    const ref = artifactRef(ctx.params.namespace, ctx.params.hash ?? '');
    const { uploadId = '', part = '' } = ctx.params;
    if (!/^\d{1,5}$/.test(part)) throw new ArtifactNotFoundError('part');
    verified(ctx, driver, 'PUT', `uploads/${ref.namespace}/${ref.hash}/${uploadId}/${part}`);
    const etag = await driver.putPart(ref, uploadId, Number(part), ctx.req, ctx.state.signal);
    metrics.bytesStreamed.inc({ direction: 'in' }, Number(ctx.get('content-length')) || 0);
    ctx.status = 200;
    ctx.set('ETag', etag);
    ctx.body = '';
  };
}
