import type { Context, ParameterizedContext } from 'koa';
import type { ArtifactHandle, ArtifactRef, ArtifactStream, ByteRange } from '../../storage/driver.js';
import { ArtifactNotFoundError } from '../../storage/errors.js';
import { parseRange } from '../range.js';
import type { GatewayState } from '../state.js';
import type { ClientProtocol, ProtocolDeps } from './protocol-deps.js';

type ProtocolContext = ParameterizedContext<GatewayState>;

export interface SendOptions {
  readonly protocol: ClientProtocol;
  /** Protocol headers sent with a hit (e.g. turbo's `x-artifact-tag`). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Answers a hit by streaming the artifact from the store, for clients that cannot follow a
 * redirect to a presigned URL (Bazel, ccache) or must see protocol headers on the answer.
 *
 * - One `Range: bytes=a-b` is served as 206 with `Content-Range`; an unsatisfiable one is 416
 *   with `Content-Range: bytes *\/{size}` (RFC 9110 §14.4); multiple ranges and forms we do not
 *   serve get the whole body (200), which RFC 9110 allows (a server may ignore Range).
 * - The body is the store's stream, piped by Koa (`stream.pipeline`): the store is read only as
 *   fast as the client takes the bytes, so memory stays constant whatever the size.
 * - When the client leaves, the request's signal aborts the store call and the store stream is
 *   destroyed at once (pipeline would do it too, but only once it notices the closed socket).
 * - A store that cannot answer throws (StorageUnavailableError, 503): an outage is never a miss.
 *
 * Returns false on a miss without answering: the caller answers its protocol's miss (after
 * `setMiss`). An artifact evicted between `head` and `openRead` is a miss too.
 */
export async function sendArtifact(ctx: ProtocolContext, deps: ProtocolDeps, ref: ArtifactRef, opts: SendOptions): Promise<boolean> {
  const signal = ctx.state.signal;
  const handle = await deps.driver.head(ref, signal);
  if (!handle) return false;
  const { info } = handle;
  const range = parseRange(ctx.get('range') || undefined, info.size);
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('ETag', `"${info.sha256}"`);
  ctx.type = 'application/octet-stream';
  if (range === 'unsatisfiable') {
    ctx.set('X-Cache', 'HIT');
    ctx.status = 416;
    ctx.set('Content-Range', `bytes */${info.size}`);
    ctx.body = { code: 'range_not_satisfiable', message: `size is ${info.size}` };
    ctx.type = 'application/json';
    return true;
  }
  if (ctx.method === 'HEAD') {
    countHit(ctx, deps, ref, opts);
    ctx.status = 200;
    ctx.length = info.size;
    return true;
  }
  const stream = await openOrMiss(deps, handle, range, signal);
  if (!stream) return false;
  countHit(ctx, deps, ref, opts);
  if (range) {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${stream.info.size}`);
  } else {
    ctx.status = 200;
  }
  const length = range ? range.end - range.start + 1 : stream.info.size;
  ctx.length = length;
  streamBody(ctx, deps, opts.protocol, stream, length);
  return true;
}

/** Marks the answer a miss (`X-Cache: MISS`) and counts it; the caller answers in its protocol's words. */
export function setMiss(ctx: Context, deps: ProtocolDeps, protocol: ClientProtocol, ref: ArtifactRef): void {
  ctx.set('X-Cache', 'MISS');
  deps.metrics.miss(protocol, ref.namespace);
}

function countHit(ctx: Context, deps: ProtocolDeps, ref: ArtifactRef, opts: SendOptions): void {
  ctx.set('X-Cache', 'HIT');
  for (const [name, value] of Object.entries(opts.headers ?? {})) ctx.set(name, value);
  deps.metrics.hit(opts.protocol, ref.namespace);
  deps.access.hit(ref);
}

async function openOrMiss(deps: ProtocolDeps, handle: ArtifactHandle, range: ByteRange | undefined, signal: AbortSignal): Promise<ArtifactStream | undefined> {
  try {
    return await deps.driver.openRead(handle, range, signal);
  } catch (err) {
    // Gone since head() (evicted, purged): a miss like any other. Everything else is thrown.
    if (err instanceof ArtifactNotFoundError) return undefined;
    throw err;
  }
}

function streamBody(ctx: ProtocolContext, deps: ProtocolDeps, protocol: ClientProtocol, stream: ArtifactStream, length: number): void {
  const { body } = stream;
  const res = ctx.res;
  const onAbort = (): void => {
    body.destroy();
  };
  const signal = ctx.state.signal;
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  res.once('close', () => {
    signal.removeEventListener('abort', onAbort);
    // Counted once the whole body went out; a client that left took less than an artifact.
    if (res.writableFinished) deps.metrics.bytes(protocol, 'down', 'streamed', length);
    else if (!body.destroyed) body.destroy();
  });
  ctx.body = body;
}
