import type { ArtifactRef } from './driver.js';
import { spaceOf } from './object-keys.js';

/**
 * The one rule every driver's `replace` checks first: only build binaries, which only the build
 * worker writes, may be stored anew (`force_rebuild`); every other key keeps its first write.
 */
export function assertReplaceable(ref: ArtifactRef): void {
  if (spaceOf(ref) !== 'builds') throw new Error(`replace: only the builds key space may be replaced, not ${spaceOf(ref)}`);
}
