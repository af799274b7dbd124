import type { ArtifactInfo, ArtifactRef } from '../driver.js';
import { ArtifactNotFoundError, StorageUnavailableError } from '../errors.js';
import { artifactKey, blobKey, describeRef } from '../object-keys.js';
import { isProtocolSpace } from '../ingest-scope.js';
import type { S3Head } from './s3-head.js';
import { MalformedObjectError } from './s3-object-info.js';

export interface Located {
  readonly info: ArtifactInfo;
  /** The object holding the bytes: the artifact key, or the blob of the upload its pointer names. */
  readonly location: string;
}

/**
 * Where each artifact's bytes are, derived from the ref alone, and remembered by the identity of
 * the handle or listing entry the driver gave out: callers hand those back to spare a second
 * HEAD, but can neither forge nor alter an entry (a WeakMap keyed by the very object).
 */
export class S3Locator {
  private readonly located = new WeakMap<object, { readonly key: string; readonly location: string }>();

  constructor(
    private readonly heads: S3Head,
    private readonly beforeLookup: (signal?: AbortSignal) => Promise<void>,
  ) {}

  /**
   * What is stored for `ref` and where its bytes are; `null` when nothing is. The location is
   * always derived here from the ref (the artifact key, or for a pointer the blob key of the
   * upload it names, see s3-object-info.ts): nothing written by a client can make it name
   * another key. A pointer whose blob is gone is an outage for a reader, `broken` for a sweeper.
   */
  async resolve(ref: ArtifactRef, signal?: AbortSignal): Promise<Located | 'broken' | null> {
    await this.beforeLookup(signal);
    const key = artifactKey(ref);
    const stored = await this.heads.head(key, signal);
    if (!stored) return null;
    if (stored.kind === 'artifact') return { info: stored.info, location: key };
    // An object under an artifact key without our metadata was not written through Velocity.
    if (stored.kind === 'bytes') throw new MalformedObjectError(`${key}: object lacks velocity metadata`);
    const location = blobKey(ref, stored.uploadId);
    const blob = await this.heads.head(location, signal);
    // A multipart (or replaced) artifact: size, digest and metadata are the blob's, which only the
    // gateway writes; the pointer only says which of this ref's uploads holds them, and when it
    // was published.
    if (blob?.kind === 'artifact') return { info: { ...blob.info, createdAt: stored.createdAt }, location };
    // An ingested artifact: the store counted the blob's bytes; their digest was computed by the
    // gateway as they streamed, and recorded on the pointer it published. Read only where no
    // client can write a pointer (the client-protocol spaces, see ingest-scope.ts).
    if (blob?.kind === 'bytes' && stored.sha256 !== undefined && isProtocolSpace(ref)) {
      return { info: { size: blob.size, sha256: stored.sha256, createdAt: stored.createdAt, meta: stored.meta }, location };
    }
    return 'broken';
  }

  async lookup(ref: ArtifactRef, signal?: AbortSignal): Promise<Located | null> {
    const found = await this.resolve(ref, signal);
    if (found === 'broken') throw new StorageUnavailableError(`${artifactKey(ref)}: points at an upload whose bytes are missing`);
    return found;
  }

  remember(holder: object, ref: ArtifactRef, location: string): void {
    this.located.set(holder, { key: artifactKey(ref), location });
  }

  /** The location remembered for `holder` when it was made for this very ref. */
  known(holder: object, ref: ArtifactRef): string | undefined {
    const known = this.located.get(holder);
    return known?.key === artifactKey(ref) ? known.location : undefined;
  }

  /** From a remembered handle, else looked up; throws `ArtifactNotFoundError` when gone. */
  async locate(handle: { readonly ref: ArtifactRef; readonly info: ArtifactInfo }, signal?: AbortSignal): Promise<Located> {
    const location = this.known(handle, handle.ref);
    if (location !== undefined) return { info: handle.info, location };
    const found = await this.lookup(handle.ref, signal);
    if (!found) throw new ArtifactNotFoundError(describeRef(handle.ref));
    return found;
  }
}
