import { BadRequestError } from '../errors.js';
import type { ArtifactRef, KeySpace } from './driver.js';

export const HASH_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const DEFAULT_NAMESPACE = 'default';
/** Multipart upload ids the drivers hand out (random, base64url). */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export const KEY_SPACES: readonly KeySpace[] = ['artifacts', 'builds'];

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
