import type { Logger } from 'pino';
import type { TokenVerifier } from '../../auth/token-verifier.js';
import type { AccessRecorder } from '../../lifecycle/access-counter.js';
import type { ProtocolMetrics } from '../../metrics/protocol-metrics.js';
import type { KnownKeys } from '../../cache/known-keys.js';
import type { StorageDriver } from '../../storage/driver.js';

/** The build tools whose own remote-cache protocols the gateway speaks (each in its own key space). */
export const CLIENT_PROTOCOLS = ['turbo', 'nx', 'bazel', 'http'] as const;
export type ClientProtocol = (typeof CLIENT_PROTOCOLS)[number];

/** What every protocol router is built from (made once in create-app.ts). */
export interface ProtocolDeps {
  readonly driver: StorageDriver;
  readonly metrics: ProtocolMetrics;
  /** Every hit is counted, as negotiated hits are, so eviction sees protocol artifacts in use. */
  readonly access: AccessRecorder;
  /** config.cache.maxArtifactSize: larger bodies are refused (413) before or while they arrive. */
  readonly maxArtifactSize: number;
  /** Seconds a presigned download URL stays valid. */
  readonly presignTtl: number;
  /**
   * The gateway's L1 of keys known to exist, with their last download URL (shared with the native
   * negotiation): a redirected hit on a known key asks the store nothing, for at most
   * VC_KNOWN_KEYS_TTL after the store last confirmed it.
   */
  readonly knownKeys: KnownKeys;
  readonly logger: Logger;
  readonly verifier: TokenVerifier;
}
