import type { IncomingHttpHeaders } from 'node:http';
import { SHA256_HEX } from '../artifact-meta.js';
import type { ArtifactInfo } from '../driver.js';
import { StorageUnavailableError } from '../errors.js';
import { UPLOAD_ID_PATTERN } from '../object-keys.js';

/** What one store HEAD says is at a key: an artifact's own bytes, or a pointer to an upload's blob. */
export type StoredObject =
  | { readonly kind: 'artifact'; readonly info: ArtifactInfo }
  | {
      readonly kind: 'pointer';
      readonly uploadId: string;
      readonly createdAt: string;
      /**
       * What an ingest recorded on the pointer it published (s3-ingest.ts): the digest it computed
       * and the caller's facts. Relied on only in the client-protocol spaces (see s3-locator.ts).
       */
      readonly sha256?: string;
      readonly meta: Readonly<Record<string, string>>;
    }
  /** An object without any `x-amz-meta-sha256`: an ingested blob's bytes (its digest is on its pointer). */
  | { readonly kind: 'bytes'; readonly size: number };

/**
 * An object under one of our keys that Velocity did not write as it is (no metadata, a bad upload
 * id). An outage for a reader that asked for that key; a listing skips it instead.
 */
export class MalformedObjectError extends StorageUnavailableError {}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Pointer metadata naming the multipart upload whose blob holds the bytes. */
export const POINTER_UPLOAD_META = 'upload-id';

/**
 * Metadata names never reported as caller metadata: the ones the driver sets itself, and the ones
 * older versions set (`size`, `location`, `created-at`), which are never read any more because a
 * client can add them unsigned to its own PUT.
 */
const OWN_NAMES = new Set(['sha256', 'size', 'location', 'created-at', POINTER_UPLOAD_META]);

/**
 * Reads a store HEAD answer, trusting each value only as far as the store or a signature vouches
 * for it. Ceph RGW (16.2) keeps any extra `x-amz-meta-*` header a client adds to a presigned PUT,
 * and joins an unsigned header with a signed query parameter of the same name
 * (`x-amz-meta-sha256: X` on a URL signing `?x-amz-meta-sha256=Y` is stored as `X,Y`); only a
 * header the URL signs is pinned (any other value, or a second copy, is a 403). So:
 *
 * - `content-length`: counted by the store; the presigned PUT signs `Content-Length`. Signed.
 * - `last-modified` (createdAt): set by the store. Trusted.
 * - `x-amz-meta-sha256`: a signed header of every presigned PUT; set with the gateway's own
 *   credentials on driver writes and on a multipart blob (CreateMultipartUpload). Signed, and
 *   checked here to be one lowercase hex SHA-256 (a joined `X,Y` value is refused).
 * - `x-amz-meta-upload-id`: written by the gateway on a pointer, but a client can add it to its own
 *   PUT. Checked: only a zero-length object is a pointer, the id must match the upload-id pattern,
 *   and the driver derives the blob key from the artifact's own ref and this id (object-keys.ts),
 *   so a pointer can only ever name a blob of the same space, namespace and hash. The size and
 *   digest of a pointed-to artifact are then read from the blob, which only the gateway writes.
 * - on a pointer, `x-amz-meta-sha256` and caller metadata: written by an ingest (the digest it
 *   computed while the bytes streamed into a blob that has none). A client can add both to a
 *   pointer it plants in the `artifacts` space, so the locator reads them only in the
 *   client-protocol spaces, where no presigned upload is ever issued (ingest-scope.ts) and every
 *   object is written with the gateway's credentials.
 * - an object with no `x-amz-meta-sha256` at all: the bytes of an ingested blob (`bytes`); the
 *   locator accepts it only as the blob a protocol-space pointer names, and as nothing else.
 * - `x-amz-meta-size`, `-location`, `-created-at`: ignored (client-addable, formerly trusted).
 * - other `x-amz-meta-*`: caller metadata. Signed names are pinned, but a client may add more, so
 *   it is relied on only in the `builds` space, which only the build worker writes (driver `put`).
 */
export function readStoredObject(key: string, headers: IncomingHttpHeaders): StoredObject {
  const length = Number(header(headers, 'content-length'));
  const lastModified = header(headers, 'last-modified');
  const createdAt = lastModified ? new Date(lastModified).toISOString() : new Date(0).toISOString();
  const uploadId = header(headers, `x-amz-meta-${POINTER_UPLOAD_META}`);
  const sha256 = header(headers, 'x-amz-meta-sha256');
  if (length === 0 && uploadId !== undefined) {
    if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new MalformedObjectError(`${key}: pointer with an invalid upload id`);
    const digest = sha256 !== undefined && SHA256_HEX.test(sha256) ? { sha256 } : {};
    return { kind: 'pointer', uploadId, createdAt, ...digest, meta: callerMeta(headers) };
  }
  if (sha256 === undefined && Number.isSafeInteger(length) && length >= 0) return { kind: 'bytes', size: length };
  if (!sha256 || !SHA256_HEX.test(sha256) || !Number.isSafeInteger(length) || length < 0) {
    // An object under our prefix without our metadata was not written through Velocity.
    throw new MalformedObjectError(`${key}: object lacks velocity metadata`);
  }
  // A zero-length object that is no pointer must be the empty artifact (e.g. a pointer written
  // before pointers named their upload): anything else would answer a digest its bytes cannot match.
  if (length === 0 && sha256 !== EMPTY_SHA256) throw new MalformedObjectError(`${key}: empty object with a digest that is not the empty one`);
  return { kind: 'artifact', info: { size: length, sha256, createdAt, meta: callerMeta(headers) } };
}

function callerMeta(headers: IncomingHttpHeaders): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const short = name.slice('x-amz-meta-'.length);
    if (!OWN_NAMES.has(short)) meta[short] = Array.isArray(value) ? (value[0] ?? '') : value;
  }
  return meta;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
