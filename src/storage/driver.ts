import type { Readable } from 'node:stream';

/**
 * Separate key spaces in one store: native artifacts negotiated by clients, and build binaries
 * written only by the build worker. Nothing negotiated by a client can name a key in another space.
 */
export type KeySpace = 'artifacts' | 'builds';

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
  /** Clients can be sent straight to the store with presigned URLs. */
  readonly presign: boolean;
  /** The store refuses a second writer (`If-None-Match: *`); without it, first-write-wins is best effort. */
  readonly conditionalWrites: boolean;
  /** Which digest the store checks on upload. */
  readonly digest: 'sha256' | 'md5';
  readonly multipart: boolean;
}

/** The result of a write that went through the driver itself (worker uploads, local driver). */
export type PutResult = 'created' | 'exists';

/**
 * One interface for every store. Drivers throw only the neutral errors of storage/errors.ts:
 * `StorageUnavailableError` for anything that is not a clear answer (never "not found"),
 * `StorageFullError` when the store has no room,
 * `ArtifactExistsError` for a refused second writer, `IntegrityError` for a body that does not
 * match what was declared.
 */
export interface StorageDriver {
  readonly name: 'local' | 's3';
  readonly capabilities: StorageCapabilities;
  /** `null` when the artifact does not exist. */
  head(ref: ArtifactRef, signal?: AbortSignal): Promise<ArtifactInfo | null>;
  /**
   * A URL to the artifact's bytes. The driver decides where they are, from the ref alone (and, for
   * artifacts stored in parts, what it checked at `head()`): no caller can name a location. Pass
   * the `info` that `head()` returned for this very ref to spare a second store lookup; any other
   * value is ignored. Throws `ArtifactNotFoundError` when the driver has to look and finds nothing.
   */
  presignDownload(ref: ArtifactRef, ttlSeconds: number, info?: ArtifactInfo, signal?: AbortSignal): Promise<PresignedRequest>;
  presignUpload(intent: UploadIntent, ttlSeconds: number): Promise<PresignedRequest>;
  createMultipartUpload(
    intent: UploadIntent,
    parts: readonly PartIntent[],
    ttlSeconds: number,
    signal?: AbortSignal,
  ): Promise<MultipartUpload>;
  /** Verifies every part, then makes the artifact visible; `exists` when another writer won. */
  completeMultipartUpload(
    ref: ArtifactRef,
    uploadId: string,
    parts: readonly CompletedPart[],
    signal?: AbortSignal,
  ): Promise<PutResult>;
  abortMultipartUpload(ref: ArtifactRef, uploadId: string, signal?: AbortSignal): Promise<void>;
  /** Streams a body into the store with the same guarantees as a presigned upload. */
  put(intent: UploadIntent, body: Readable, signal?: AbortSignal): Promise<PutResult>;
  /** Throws `ArtifactNotFoundError` when missing. */
  get(ref: ArtifactRef, range?: ByteRange, signal?: AbortSignal): Promise<ArtifactStream>;
  /** Prepares the store (folders; the bucket when configured to create it). Safe to call again. */
  init(signal?: AbortSignal): Promise<void>;
  /** Throws `StorageUnavailableError` when the store cannot answer. */
  ping(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
