import { BadRequestError, PayloadTooLargeError } from '../errors.js';
import { SHA256_HEX, checkArtifactMeta } from './artifact-meta.js';
import type { ArtifactRef, IngestIntent } from './driver.js';
import { PROTOCOL_SPACES, spaceOf } from './object-keys.js';

/**
 * Who writes which key space, checked by every driver (the gateway decides the ref; these checks
 * keep a mistake there from widening what a client can write):
 * - the client-protocol spaces are written only through `ingest`, where the store computes the
 *   digest itself. No presigned or self-served upload URL is ever made for them, so nothing a
 *   client sends straight to the store can land there (S3: the digest of an ingested artifact is
 *   recorded on its pointer, and that is sound only because no client can write a pointer there);
 * - `ingest` writes nowhere else (native artifacts declare their digest; binaries are the worker's).
 */
export function isProtocolSpace(ref: ArtifactRef): boolean {
  return PROTOCOL_SPACES.includes(spaceOf(ref));
}

export function assertIngestable(ref: ArtifactRef): void {
  if (!isProtocolSpace(ref)) throw new Error(`ingest: only the client-protocol key spaces are ingested, not ${spaceOf(ref)}`);
}

export function assertPresignable(ref: ArtifactRef): void {
  if (isProtocolSpace(ref)) throw new Error(`presigned uploads: the ${spaceOf(ref)} key space is written only through ingest`);
}

/**
 * S3 keeps at most 2 KB of user metadata per object (names and values); an ingested artifact's
 * facts travel on its pointer beside the driver's own (upload id and digest, under 120 bytes).
 */
const MAX_META_BYTES = 1800;

/**
 * Checks an ingest intent before a byte is read; returns the checked metadata. A declared size
 * over the limit is refused at once (413), so nothing is staged for it.
 */
export function checkIngestIntent(intent: IngestIntent): Record<string, string> {
  assertIngestable(intent.ref);
  if (!Number.isSafeInteger(intent.maxSize) || intent.maxSize < 0) throw new Error('ingest: maxSize must be a byte count');
  if (intent.size !== undefined) {
    if (!Number.isSafeInteger(intent.size) || intent.size < 0) throw new BadRequestError('Content-Length must be a byte count');
    if (intent.size > intent.maxSize) {
      throw new PayloadTooLargeError(`artifact of ${intent.size} bytes is larger than the ${intent.maxSize} bytes this server accepts`);
    }
  }
  if (intent.sha256 !== undefined && !SHA256_HEX.test(intent.sha256)) throw new BadRequestError('sha256 must be 64 lowercase hex digits');
  const meta = checkArtifactMeta(intent.meta);
  const bytes = Object.entries(meta).reduce((n, [k, v]) => n + k.length + v.length, 0);
  if (bytes > MAX_META_BYTES) throw new BadRequestError(`artifact metadata takes ${bytes} bytes, at most ${MAX_META_BYTES}`);
  return meta;
}
