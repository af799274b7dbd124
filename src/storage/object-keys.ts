import { BadRequestError } from '../errors.js';
import type { ArtifactRef } from './driver.js';

export const HASH_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const DEFAULT_NAMESPACE = 'default';
/** Multipart upload ids the drivers hand out (random, base64url). */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** Validates both parts: nothing reaches a store key or a file path unchecked. */
export function artifactRef(namespace: string | undefined, hash: string): ArtifactRef {
  const ns = namespace ?? DEFAULT_NAMESPACE;
  if (!NAMESPACE_PATTERN.test(ns)) throw new BadRequestError(`namespace must match ${NAMESPACE_PATTERN.source}`);
  if (!HASH_PATTERN.test(hash)) throw new BadRequestError(`hash must match ${HASH_PATTERN.source}`);
  return { namespace: ns, hash };
}

/**
 * The one place object keys are built. Layout: `artifacts/<namespace>/<hash>`. The patterns above
 * admit no `/`, `.` or `..`, so a key can never escape its namespace (checked again here because
 * this is the last line of defence for the local driver's paths).
 */
export function artifactKey(ref: ArtifactRef): string {
  if (!NAMESPACE_PATTERN.test(ref.namespace) || !HASH_PATTERN.test(ref.hash)) {
    throw new BadRequestError('invalid artifact reference');
  }
  return `artifacts/${ref.namespace}/${ref.hash}`;
}

export function describeRef(ref: ArtifactRef): string {
  return `${ref.namespace}/${ref.hash}`;
}
