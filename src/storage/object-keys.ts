import { BadRequestError } from '../errors.js';
import type { ArtifactRef, KeySpace, RecordKey, RecordKind } from './driver.js';

export const HASH_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const DEFAULT_NAMESPACE = 'default';
/** Multipart upload ids the drivers hand out (random, base64url). */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** Every key space; eviction, statistics and sweeping go over all of them. */
export const KEY_SPACES: readonly KeySpace[] = ['artifacts', 'builds', 'turbo', 'nx', 'bazel-ac', 'bazel-cas', 'http'];
/** The spaces of the client protocols: written only through `ingest` (streamed), never by a presigned PUT. */
export const PROTOCOL_SPACES: readonly KeySpace[] = ['turbo', 'nx', 'bazel-ac', 'bazel-cas', 'http'];
/** Names of private documents (leases, access statistics): no `/`, never `.` or `..` alone. */
export const RECORD_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const RECORD_KINDS: readonly RecordKind[] = ['leases', 'access'];

export function isKeySpace(value: string | undefined): value is KeySpace {
  return (KEY_SPACES as readonly (string | undefined)[]).includes(value);
}

export function spaceOf(ref: ArtifactRef): KeySpace {
  return ref.space ?? 'artifacts';
}

/** Validates every part: nothing reaches a store key or a file path unchecked. */
export function artifactRef(namespace: string | undefined, hash: string, space: string = 'artifacts'): ArtifactRef {
  const ns = namespace ?? DEFAULT_NAMESPACE;
  if (!isKeySpace(space)) throw new BadRequestError(`key space must be one of ${KEY_SPACES.join(', ')}`);
  if (!NAMESPACE_PATTERN.test(ns)) throw new BadRequestError(`namespace must match ${NAMESPACE_PATTERN.source}`);
  if (!HASH_PATTERN.test(hash)) throw new BadRequestError(`hash must match ${HASH_PATTERN.source}`);
  return space === 'artifacts' ? { namespace: ns, hash } : { space, namespace: ns, hash };
}

/**
 * The one place object keys are built. Layout, per key space (`artifacts`, negotiated by clients;
 * `builds`, written by the build worker only):
 *   <space>/<namespace>/<hash>                    the artifact (or a zero-length pointer to a blob)
 *   uploads/<space>/<namespace>/<hash>/<uploadId>  a multipart upload in progress (S3: `.json`
 *                                                  manifest; local driver: a folder of parts)
 *   blobs/<space>/<namespace>/<hash>/<uploadId>    the assembled bytes of a multipart upload
 *   system/<kind>/<name>                          private documents (leases, access statistics)
 * The patterns above admit no `/`, `.` or `..`, so a key can never escape its space, namespace or
 * upload (checked again here because this is the last line of defence for the local driver's
 * paths). A blob key is derived from the ref and the upload id, never read from the store: that is
 * what keeps a pointer from naming another namespace's bytes.
 */
export function artifactKey(ref: ArtifactRef): string {
  return refPath(ref);
}

export function uploadKey(ref: ArtifactRef, uploadId: string): string {
  return `uploads/${refPath(ref)}/${checkedUploadId(uploadId)}`;
}

export function manifestKey(ref: ArtifactRef, uploadId: string): string {
  return `${uploadKey(ref, uploadId)}.json`;
}

export function blobKey(ref: ArtifactRef, uploadId: string): string {
  return `blobs/${refPath(ref)}/${checkedUploadId(uploadId)}`;
}

/**
 * Where a listing of a key space starts: the whole space, one namespace, or the hashes of one
 * namespace starting with `prefix` (checked against the hash pattern's alphabet).
 */
export function listPrefix(space: KeySpace, namespace?: string, prefix = ''): string {
  if (!isKeySpace(space)) throw new BadRequestError('invalid key space');
  if (namespace === undefined) {
    if (prefix !== '') throw new BadRequestError('a hash prefix needs a namespace');
    return `${space}/`;
  }
  if (!NAMESPACE_PATTERN.test(namespace)) throw new BadRequestError(`namespace must match ${NAMESPACE_PATTERN.source}`);
  if (prefix !== '' && !HASH_PATTERN.test(prefix)) throw new BadRequestError(`prefix must match ${HASH_PATTERN.source}`);
  return `${space}/${namespace}/${prefix}`;
}

/** The prefix every upload (S3: manifest; local: folder) and every blob lives under. */
export const UPLOADS_PREFIX = 'uploads/';
export const BLOBS_PREFIX = 'blobs/';

/**
 * The ref an object key names, or `undefined` when the key is not exactly one this module builds.
 * Listings go through here: a key is only acted on when rebuilding it from the parsed ref gives
 * the same key back, so nothing found in a store can widen what a deletion touches.
 */
export function parseArtifactKey(key: string): ArtifactRef | undefined {
  const [space, namespace, hash, ...rest] = key.split('/');
  if (rest.length > 0 || !isKeySpace(space) || namespace === undefined || hash === undefined) return undefined;
  if (!NAMESPACE_PATTERN.test(namespace) || !HASH_PATTERN.test(hash)) return undefined;
  const ref: ArtifactRef = space === 'artifacts' ? { namespace, hash } : { space, namespace, hash };
  return artifactKey(ref) === key ? ref : undefined;
}

/** `uploads/...` or `blobs/...` keys: the ref and upload id, or `undefined` when not one of ours. */
export function parseUploadKey(key: string): { kind: 'upload' | 'manifest' | 'blob'; ref: ArtifactRef; uploadId: string } | undefined {
  const [top, ...rest] = key.split('/');
  if (top !== 'uploads' && top !== 'blobs') return undefined;
  const last = rest.pop();
  if (last === undefined) return undefined;
  const manifest = top === 'uploads' && last.endsWith('.json');
  const uploadId = manifest ? last.slice(0, -'.json'.length) : last;
  const ref = parseArtifactKey(rest.join('/'));
  if (!ref || !UPLOAD_ID_PATTERN.test(uploadId)) return undefined;
  return { kind: top === 'blobs' ? 'blob' : manifest ? 'manifest' : 'upload', ref, uploadId };
}

export function recordKey(key: RecordKey): string {
  if (!RECORD_KINDS.includes(key.kind) || !RECORD_NAME_PATTERN.test(key.name)) throw new BadRequestError('invalid record key');
  return `${recordPrefix(key.kind)}${key.name}`;
}

export function recordPrefix(kind: RecordKind): string {
  if (!RECORD_KINDS.includes(kind)) throw new BadRequestError('invalid record kind');
  return `system/${kind}/`;
}

function refPath(ref: ArtifactRef): string {
  if (!isKeySpace(spaceOf(ref)) || !NAMESPACE_PATTERN.test(ref.namespace) || !HASH_PATTERN.test(ref.hash)) {
    throw new BadRequestError('invalid artifact reference');
  }
  return `${spaceOf(ref)}/${ref.namespace}/${ref.hash}`;
}

function checkedUploadId(uploadId: string): string {
  if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new BadRequestError('invalid upload id');
  return uploadId;
}

export function describeRef(ref: ArtifactRef): string {
  const space = spaceOf(ref);
  return space === 'artifacts' ? `${ref.namespace}/${ref.hash}` : `${space}:${ref.namespace}/${ref.hash}`;
}
