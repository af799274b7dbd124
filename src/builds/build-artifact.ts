import type { ArtifactRef } from '../storage/driver.js';
import { artifactRef } from '../storage/object-keys.js';

/**
 * The one place a build binary's ref is made, for the service's lookups and the worker's upload
 * alike. It lies in key space `builds` (`builds/<VC_BUILD_NAMESPACE>/<build key>`), which
 * negotiation never names (every negotiated ref is in `artifacts`), so a `cache:write` token cannot
 * plant a binary under a build key: only the build worker writes there.
 */
export function buildArtifactRef(namespace: string, key: string): ArtifactRef {
  return artifactRef(namespace, key, 'builds');
}
