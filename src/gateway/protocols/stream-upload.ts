import type { ParameterizedContext } from 'koa';
import { VelocityError, PayloadTooLargeError } from '../../errors.js';
import type { ArtifactRef, IngestResult } from '../../storage/driver.js';
import type { GatewayState } from '../state.js';
import type { ClientProtocol, ProtocolDeps } from './protocol-deps.js';

export interface ReceiveOptions {
  readonly protocol: ClientProtocol;
  /** When the key is the content's digest (Bazel CAS): the store checks the body against it. */
  readonly sha256?: string;
  /** Facts recorded with the artifact (already validated by the protocol). */
  readonly meta?: Record<string, string>;
}

/**
 * 415 for an upload with a Content-Encoding: stored bytes are served back as they are, so an
 * encoded body would come back still encoded to a client that never asked for it.
 */
export function refuseEncodedBody(ctx: ParameterizedContext<GatewayState>): void {
  const encoding = ctx.get('content-encoding').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return;
  throw new VelocityError(`Content-Encoding ${JSON.stringify(encoding)} is not accepted on artifact uploads: artifacts are stored as sent`, {
    status: 415,
    code: 'unsupported_encoding',
  });
}

/**
 * Streams ctx.req into driver.ingest (Content-Length checked against maxArtifactSize before
 * reading: 413), aborting the store write when the client leaves. Counts bytes up (streamed).
 * Throws the storage errors as they are. The store computes the digest on the way and publishes
 * only a complete, checked body (first write wins: `exists` replaces nothing).
 */
export async function receiveArtifact(
  ctx: ParameterizedContext<GatewayState>,
  deps: ProtocolDeps,
  ref: ArtifactRef,
  opts: ReceiveOptions,
): Promise<IngestResult> {
  refuseEncodedBody(ctx);
  // Node has checked the header's syntax (a malformed Content-Length never reaches a route);
  // absent means a chunked body, bounded by maxSize as it arrives.
  const size = ctx.request.length;
  if (size !== undefined && size > deps.maxArtifactSize) {
    throw new PayloadTooLargeError(`artifact of ${size} bytes is larger than the ${deps.maxArtifactSize} bytes this server accepts`);
  }
  const outcome = await deps.driver.ingest(
    {
      ref,
      ...(size === undefined ? {} : { size }),
      maxSize: deps.maxArtifactSize,
      ...(opts.sha256 === undefined ? {} : { sha256: opts.sha256 }),
      ...(opts.meta === undefined ? {} : { meta: opts.meta }),
    },
    ctx.req,
    ctx.state.signal,
  );
  // For `exists` the body still came through the gateway (the store refused to publish it).
  deps.metrics.bytes(opts.protocol, 'up', 'streamed', outcome.result === 'created' ? outcome.info.size : (size ?? 0));
  return outcome;
}
