import type { IncomingMessage } from 'node:http';
import { ClientClosedRequestError, PayloadTooLargeError, VelocityError } from '../../errors.js';
import type { ArtifactRef, StorageDriver } from '../../storage/driver.js';
import { artifactRef } from '../../storage/object-keys.js';
import { RequestTimeoutError } from '../body-errors.js';
import { wasCutForSlowness } from '../slow-clients.js';
import { actionResultDigests, requiredBlobs, type BlobDigest } from './bazel-action-result.js';

/** Action results are small (outputs are named by digest); a larger body is not one. */
export const MAX_ACTION_RESULT_SIZE = 4 * 1024 * 1024;
/** Existence checks in flight at once for one action result. */
const CHECKS_IN_FLIGHT = 8;

/** An action result naming blobs the CAS does not hold: storing it would make a hit that cannot be used. */
export class MissingBlobsError extends VelocityError {
  constructor(namespace: string, missing: readonly BlobDigest[]) {
    const shown = missing.slice(0, 3).map((d) => `${d.hash}/${d.size}`).join(', ');
    super(`action result names ${missing.length} blob(s) not in the CAS of namespace ${namespace}: ${shown}${missing.length > 3 ? ', ...' : ''}`, {
      status: 400,
      code: 'missing_blobs',
    });
  }
}

/**
 * Reads an action-cache body (bounded: `limit` bytes, 413 past it) and checks that every CAS blob
 * it names is stored in the same namespace with the size the result gives. Bazel uploads the
 * outputs to the CAS before it writes the action result, so a result whose blobs are missing is
 * an upload that failed half-way (or a client lying about outputs): accepting it would hand every
 * later build a hit it cannot download. Returns the body for the store.
 */
export async function readCheckedActionResult(
  req: IncomingMessage,
  driver: StorageDriver,
  acRef: ArtifactRef,
  limit: number,
  signal: AbortSignal,
): Promise<Buffer> {
  const body = await readBounded(req, limit);
  const blobs = requiredBlobs(actionResultDigests(body));
  const missing: BlobDigest[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < blobs.length) {
      const blob = blobs[next++] as BlobDigest;
      const found = await driver.head(artifactRef(acRef.namespace, blob.hash, 'bazel-cas'), signal);
      if (!found || found.info.size !== blob.size) missing.push(blob);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHECKS_IN_FLIGHT, blobs.length) }, worker));
  if (missing.length > 0) throw new MissingBlobsError(acRef.namespace, missing);
  return body;
}

async function readBounded(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new PayloadTooLargeError(`action result of ${declared} bytes is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) throw new PayloadTooLargeError(`action result is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof VelocityError) throw err;
    if (wasCutForSlowness(req)) throw new RequestTimeoutError('request body not received in time');
    // The body stopped before its end: the client went away (or reset the connection).
    throw new ClientClosedRequestError();
  }
  return Buffer.concat(chunks, total);
}
