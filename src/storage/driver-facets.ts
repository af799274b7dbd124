import type { Readable } from 'node:stream';
import type { ArtifactHandle, ArtifactRef, CompletedPart, MultipartUpload, PartIntent, PresignedRequest, PutResult, UploadIntent } from './driver.js';

/**
 * The optional facets of the artifact store (driver.ts): capabilities a driver declares by having
 * them. Callers check that a facet is there before they use it.
 */

/**
 * Stores new bytes under a key that may hold an artifact already, atomically: a new object is
 * written completely first, then what the key resolves to moves to it, so a reader sees the old
 * artifact or the new one, never a mix; a read already under way finishes with the old bytes.
 * Only the `builds` key space, which only the build worker writes, may be replaced (anywhere
 * else the call throws: the first write wins there). Length and digest are checked as for `write`.
 */
export interface ReplaceFacet {
  replace(intent: UploadIntent, body: Readable, signal?: AbortSignal): Promise<void>;
}

export interface PresignFacet {
  /** A URL to the bytes `head()` found; the driver alone decides which object it names. */
  download(handle: ArtifactHandle, ttlSeconds: number, signal?: AbortSignal): Promise<PresignedRequest>;
  /** A URL that accepts exactly the declared bytes, once (`If-None-Match: *`). */
  upload(intent: UploadIntent, ttlSeconds: number): Promise<PresignedRequest>;
}

export interface MultipartFacet {
  create(intent: UploadIntent, parts: readonly PartIntent[], ttlSeconds: number, signal?: AbortSignal): Promise<MultipartUpload>;
  /** Verifies every part, then makes the artifact visible; `exists` when another writer won. */
  complete(ref: ArtifactRef, uploadId: string, parts: readonly CompletedPart[], signal?: AbortSignal): Promise<PutResult>;
  abort(ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<void>;
}

/** A part URL, checked: which upload and part it was signed for. */
export interface SignedPart {
  readonly ref: ArtifactRef;
  readonly uploadId: string;
  readonly partNumber: number;
}

/**
 * For drivers whose signed URLs the gateway serves itself. Each check accepts exactly the
 * parameters the driver signed for that kind of URL (else `SignedUrlRejectedError`, 403) and
 * returns typed values; the gateway's routes never read the query themselves.
 */
export interface SelfServedFacet {
  /** Checks a download URL (HEAD is checked against the GET URL, as with S3). */
  verifyDownload(ref: ArtifactRef, query: URLSearchParams): void;
  /** Checks an upload URL; the intent it returns is what the body must match (`write`). */
  verifyUpload(ref: ArtifactRef, query: URLSearchParams): UploadIntent;
  verifyPart(namespace: string, hash: string, uploadId: string, part: string, query: URLSearchParams): SignedPart;
  /** Receives a checked part; returns its ETag (quoted hex MD5, as S3 does). */
  receivePart(part: SignedPart, body: Readable, signal?: AbortSignal): Promise<string>;
}

/** Kinds of private documents; their keys are built in object-keys.ts (`system/<kind>/<name>`). */
export type RecordKind = 'leases' | 'access';

export interface RecordKey {
  readonly kind: RecordKind;
  /** Matches `RECORD_NAME_PATTERN` (object-keys.ts). */
  readonly name: string;
}

export interface RecordsFacet {
  /** True when this call created it; false when it existed (needs conditional writes to be exact). */
  create(key: RecordKey, body: string, signal?: AbortSignal): Promise<boolean>;
  /** `null` when absent. */
  read(key: RecordKey, signal?: AbortSignal): Promise<string | null>;
  /** Names of one kind, in key order. */
  list(kind: RecordKind, signal?: AbortSignal): Promise<string[]>;
  remove(keys: readonly RecordKey[], signal?: AbortSignal): Promise<void>;
}

export interface SweepOptions {
  /** Epoch ms: only leftovers last touched before this are removed (younger ones may be in progress). */
  readonly olderThan: number;
  readonly dryRun: boolean;
}

export interface SweepReport {
  /** Multipart uploads (and their manifests or part folders) abandoned before completing. */
  readonly uploads: number;
  /** Blobs no pointer names, and pointers whose blob is gone. */
  readonly orphans: number;
  /** Temporary files and folders of interrupted writes. */
  readonly temporary: number;
  readonly freedBytes: number;
}

export interface SweepFacet {
  sweep(opts: SweepOptions, signal?: AbortSignal): Promise<SweepReport>;
}
