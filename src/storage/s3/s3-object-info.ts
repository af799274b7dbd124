import type { IncomingHttpHeaders } from 'node:http';
import { SHA256_HEX } from '../artifact-meta.js';
import type { ArtifactInfo } from '../driver.js';
import { StorageUnavailableError } from '../errors.js';
import { UPLOAD_ID_PATTERN } from '../object-keys.js';

/** What one store HEAD says is at a key: an artifact's own bytes, or a pointer to an upload's blob. */
export type StoredObject =
  | { readonly kind: 'artifact'; readonly info: ArtifactInfo }
  | { readonly kind: 'pointer'; readonly uploadId: string; readonly createdAt: string };

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
 * - `x-amz-meta-size`, `-location`, `-created-at`: ignored (client-addable, formerly trusted).
 * - other `x-amz-meta-*`: caller metadata. Signed names are pinned, but a client may add more, so
 *   it is relied on only in the `builds` space, which only the build worker writes (driver `put`).
 */
export function readStoredObject(key: string, headers: IncomingHttpHeaders): StoredObject {
  const length = Number(header(headers, 'content-length'));
  const lastModified = header(headers, 'last-modified');
  const createdAt = lastModified ? new Date(lastModified).toISOString() : new Date(0).toISOString();
  const uploadId = header(headers, `x-amz-meta-${POINTER_UPLOAD_META}`);
  if (length === 0 && uploadId !== undefined) {
    if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new MalformedObjectError(`${key}: pointer with an invalid upload id`);
    return { kind: 'pointer', uploadId, createdAt };
  }
  const sha256 = header(headers, 'x-amz-meta-sha256');
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
