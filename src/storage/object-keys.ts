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
 * The one place object keys are built. Layout: `<space>/<namespace>/<hash>`, where space is
 * `artifacts` (negotiated by clients) or `builds` (written by the build worker only). The patterns
 * above admit no `/`, `.` or `..`, so a key can never escape its space or namespace (checked again
 * here because this is the last line of defence for the local driver's paths).
 */
export function artifactKey(ref: ArtifactRef): string {
  if (!isKeySpace(spaceOf(ref)) || !NAMESPACE_PATTERN.test(ref.namespace) || !HASH_PATTERN.test(ref.hash)) {
    throw new BadRequestError('invalid artifact reference');
  }
  return `${spaceOf(ref)}/${ref.namespace}/${ref.hash}`;
}

export function describeRef(ref: ArtifactRef): string {
  const space = spaceOf(ref);
  return space === 'artifacts' ? `${ref.namespace}/${ref.hash}` : `${space}:${ref.namespace}/${ref.hash}`;
}
