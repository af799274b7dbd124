import type { Readable } from 'node:stream';
import type { MultipartFacet, PresignFacet, RecordsFacet, ReplaceFacet, SelfServedFacet, SweepFacet } from './driver-facets.js';

/**
 * Separate key spaces in one store: native artifacts negotiated by clients, build binaries written
 * only by the build worker, and one space per client protocol (Turborepo, Nx, Bazel's action cache
 * and CAS, plain HTTP caches), whose artifacts are streamed in through `ingest`. Nothing a client
 * of one space sends can name a key in another.
 */
export type KeySpace = 'artifacts' | 'builds' | 'turbo' | 'nx' | 'bazel-ac' | 'bazel-cas' | 'http';

/** Where an artifact lives. Every part is validated (see object-keys.ts) before it gets here. */
export interface ArtifactRef {
  /** `artifacts` when absent. */
  readonly space?: KeySpace;
  readonly namespace: string;
  readonly hash: string;
}

/** What the store records with every artifact. */
export interface ArtifactInfo {
  readonly size: number;
  /** Lowercase hex SHA-256 of the bytes. */
  readonly sha256: string;
  /** ISO-8601. */
  readonly createdAt: string;
  /**
   * Extra facts recorded with the artifact (e.g. build metadata for binaries). Names match
   * `^[a-z0-9][a-z0-9-]{0,63}$` (they travel as `x-amz-meta-*` headers); values are printable ASCII.
   */
  readonly meta?: Readonly<Record<string, string>>;
}

/**
 * What `head()` found: the ref asked about and what is stored there. Opaque to callers: a driver
 * may remember, by the handle's identity, where the bytes are (a multipart blob), so handing the
 * handle back spares a second lookup. A handle the driver did not make (or one for another ref)
 * is never trusted: the driver looks the ref up again.
 */
export interface ArtifactHandle {
  readonly ref: ArtifactRef;
  readonly info: ArtifactInfo;
}

/** One artifact as a listing sees it: enough to choose what to evict, and to delete it. */
export interface ListedArtifact {
  readonly ref: ArtifactRef;
  /** Bytes of the artifact (for a multipart artifact, its blob's). */
  readonly size: number;
  /** Epoch ms the artifact was published. */
  readonly createdAt: number;
}

export interface ListQuery {
  readonly space: KeySpace;
  /** Only this namespace; every namespace of the space when absent. */
  readonly namespace?: string;
  /** Only hashes starting with this (needs `namespace`). */
  readonly prefix?: string;
  /** From a previous page's `cursor`. */
  readonly cursor?: string;
  /** At most this many items (the driver may return fewer); default 1000. */
  readonly limit?: number;
}

export interface ListPage {
  readonly items: readonly ListedArtifact[];
  /** Absent on the last page. */
  readonly cursor?: string;
}

/** What a writer declares before the bytes move; the store enforces length and digest. */
export interface UploadIntent {
  readonly ref: ArtifactRef;
  readonly size: number;
  readonly sha256: string;
  /** Base64 MD5 of the bytes: required when the driver's digest is `md5`. */
  readonly md5?: string | undefined;
  readonly meta?: Readonly<Record<string, string>> | undefined;
}

export interface PartIntent {
  readonly size: number;
  /** Base64 MD5 of the part's bytes. */
  readonly md5: string;
}

/** An HTTP request a client makes itself, straight to the store. */
export interface PresignedRequest {
  readonly url: string;
  readonly method: 'GET' | 'PUT';
  /** Exactly the headers the client must send (they are signed). */
  readonly headers: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
}

export interface PresignedPart extends PresignedRequest {
  readonly partNumber: number;
}

export interface MultipartUpload {
  readonly uploadId: string;
  readonly parts: readonly PresignedPart[];
  readonly expiresAt: Date;
}

export interface CompletedPart {
  readonly partNumber: number;
  readonly etag: string;
}

export interface ByteRange {
  /** Inclusive. */
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

export interface ArtifactStream {
  readonly info: ArtifactInfo;
  readonly body: Readable;
  /** Set when a range was asked for and served. */
  readonly range?: ByteRange;
}

export interface StorageCapabilities {
  /** The store refuses a second writer (`If-None-Match: *`); without it, first-write-wins is best effort. */
  readonly conditionalWrites: boolean;
  /** Which digest the store checks on upload. */
  readonly digest: 'sha256' | 'md5';
}

/** The result of a write that went through the driver itself (worker uploads, local driver). */
export type PutResult = 'created' | 'exists';

/**
 * A body whose digest the store learns while it streams (client protocols PUT by their own key,
 * not by the content's digest, and declare no digest up front).
 */
export interface IngestIntent {
  readonly ref: ArtifactRef;
  /** Declared length (Content-Length); absent for a chunked body. Checked: fewer or more bytes fail. */
  readonly size?: number | undefined;
  /** More bytes than this fail with PayloadTooLargeError (413) as soon as they arrive (or at once when size > maxSize). */
  readonly maxSize: number;
  /** When the key is the digest (Bazel CAS): the computed SHA-256 must equal it (else IntegrityError). */
  readonly sha256?: string | undefined;
  /** Extra facts to record (names ^[a-z0-9][a-z0-9-]{0,63}$, printable ASCII values), e.g. turbo's duration and tag. */
  readonly meta?: Readonly<Record<string, string>> | undefined;
}

export interface IngestResult {
  /** 'exists' when another writer (any protocol, any replica) published first: nothing was replaced. */
  readonly result: PutResult;
  /** What is stored now under the ref (for 'exists': the winner's). */
  readonly info: ArtifactInfo;
}

/**
 * The artifact store: one small sealed interface every driver implements, plus optional facets a
 * driver declares by having them. Nothing outside `src/storage` knows a driver's internals; a
 * caller that needs a facet checks that it is there (a store that cannot presign is streamed
 * through the gateway; one without multipart refuses parts).
 *
 * Drivers throw only the neutral errors of storage/errors.ts: `StorageUnavailableError` for
 * anything that is not a clear answer (never "not found"), `StorageFullError` when the store has
 * no room, `ArtifactExistsError` for a refused second writer, `IntegrityError` for a body that
 * does not match what was declared.
 */
export interface StorageDriver {
  /** For logs and `/v1/capabilities` (`local`, `s3`, or a third driver's own name). */
  readonly name: string;
  readonly capabilities: StorageCapabilities;
  /** `null` when the artifact does not exist. */
  head(ref: ArtifactRef, signal?: AbortSignal): Promise<ArtifactHandle | null>;
  /**
   * The bytes of what `head()` found (the handle's identity may spare a lookup; its fields are
   * never trusted). Throws `ArtifactNotFoundError` when it is gone.
   */
  openRead(handle: ArtifactHandle, range?: ByteRange, signal?: AbortSignal): Promise<ArtifactStream>;
  /**
   * Streams a body into the store: length and digest checked, first write wins (`exists` when
   * another writer got there first; nothing is ever overwritten).
   */
  write(intent: UploadIntent, body: Readable, signal?: AbortSignal): Promise<PutResult>;
  /**
   * Streams a body of unknown digest into the store in constant memory, computing its SHA-256 and
   * length on the way; it becomes visible under the ref only once the whole body arrived and was
   * checked (declared size, `maxSize`, `sha256` when given), and only if no other writer published
   * first (`exists`, with the winner's info; nothing is replaced). On any failure (the signal, a
   * body error, too large, integrity, an outage, a full store) nothing is visible and the
   * staging is removed (or left for the sweeper).
   */
  ingest(intent: IngestIntent, body: Readable, signal?: AbortSignal): Promise<IngestResult>;
  /**
   * Deletes artifacts (and, for multipart artifacts, their blobs); missing ones are not an error.
   * Targets a listing or `head()` returned spare a lookup each. Batched by the driver.
   */
  delete(targets: readonly { readonly ref: ArtifactRef }[], signal?: AbortSignal): Promise<void>;
  /** Published artifacts of one key space, in key order; uploads in progress are never listed. */
  list(query: ListQuery, signal?: AbortSignal): Promise<ListPage>;
  /** Prepares the store (folders; the bucket when configured to create it). Safe to call again. */
  init(signal?: AbortSignal): Promise<void>;
  /** Throws `StorageUnavailableError` when the store cannot answer. */
  ping(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;

  /** Clients go straight to the store with signed URLs. */
  readonly presign?: PresignFacet;
  /** Large artifacts in parts, each part URL signed with its length and MD5. */
  readonly multipart?: MultipartFacet;
  /** The store's URLs point back to the gateway, which serves them (the local driver). */
  readonly selfServed?: SelfServedFacet;
  /** Small private documents (leases, access statistics) beside the artifacts. */
  readonly records?: RecordsFacet;
  /** Removes what writes leave behind: abandoned uploads, orphaned blobs, temporary files. */
  readonly sweeper?: SweepFacet;
  /** New bytes for a build binary (`force_rebuild`): the one exception to first write wins. */
  readonly replace?: ReplaceFacet;
}

/** The optional capabilities a driver may declare; wrappers pass them on by this list. */
export const FACETS = ['presign', 'multipart', 'selfServed', 'records', 'sweeper', 'replace'] as const;
export type Facet = (typeof FACETS)[number];

type OptionalKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T];
/** Fails to compile when StorageDriver gains an optional member that FACETS does not list. */
export const FACETS_COMPLETE: [Exclude<OptionalKeys<StorageDriver>, Facet>] extends [never] ? true : false = true;

export type { MultipartFacet, PresignFacet, RecordKey, RecordKind, RecordsFacet, ReplaceFacet, SelfServedFacet, SignedPart, SweepFacet, SweepOptions, SweepReport } from './driver-facets.js';
