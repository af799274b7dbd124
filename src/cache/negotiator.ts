import type { Metrics } from '../metrics/create-metrics.js';
import { requireNamespace, requireScope, type Principal } from '../auth/principal.js';
import { BadRequestError, PayloadTooLargeError, VelocityError } from '../errors.js';
import type { ArtifactRef, StorageDriver } from '../storage/driver.js';
import { StorageUnavailableError } from '../storage/errors.js';
import { DEFAULT_NAMESPACE } from '../storage/object-keys.js';
import type { KnownKeys } from './known-keys.js';
import {
  negotiateRequestSchema,
  parseOrThrow,
  type AbortRequest,
  type CompleteRequest,
  type NegotiateRequest,
} from './negotiation-schema.js';

export type NegotiateAnswer =
  | { status: 'found'; url: string; expires_at: string; size: number; sha256: string }
  | { status: 'missing' }
  | { status: 'skipped' }
  | { status: 'upload_needed'; url: string; method: 'PUT'; headers: Record<string, string>; expires_at: string }
  | {
      status: 'upload_needed';
      expires_at: string;
      multipart: {
        upload_id: string;
        parts: { part_number: number; url: string; method: 'PUT'; headers: Record<string, string> }[];
      };
    };

export type BatchItemAnswer = NegotiateAnswer | { status: 'error'; code: string; message: string };

export interface NegotiatorDeps {
  readonly driver: StorageDriver;
  readonly knownKeys: KnownKeys;
  readonly metrics: Metrics;
  readonly presignTtl: number;
  readonly maxArtifactSize: number;
  readonly multipartThreshold: number;
  readonly now?: () => number;
}

/** S3's floor for every part but the last. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Misses in one batch checked against the store at once. */
const BATCH_STORE_CONCURRENCY = 32;

/**
 * The negotiation protocol, free of HTTP: decides found / missing / upload_needed / skipped.
 * A storage error propagates as StorageUnavailableError (503); it is never turned into `missing`.
 */
export class Negotiator {
  private readonly now: () => number;

  constructor(private readonly deps: NegotiatorDeps) {
    this.now = deps.now ?? Date.now;
  }

  async negotiate(principal: Principal, req: NegotiateRequest, signal?: AbortSignal): Promise<NegotiateAnswer> {
    const started = performance.now();
    let status = 'error';
    try {
      const ref = { namespace: req.namespace ?? DEFAULT_NAMESPACE, hash: req.hash };
      requireScope(principal, req.action === 'download' ? 'cache:read' : 'cache:write');
      requireNamespace(principal, ref.namespace);
      const answer = req.action === 'download' ? await this.download(ref, signal) : await this.upload(ref, req, signal);
      status = answer.status;
      return answer;
    } catch (err) {
      if (err instanceof StorageUnavailableError) this.deps.metrics.storageErrors.inc({ operation: 'negotiate' });
      throw err;
    } finally {
      this.deps.metrics.negotiationLatency.observe({ action: req.action, status }, (performance.now() - started) / 1000);
    }
  }

  private async download(ref: ArtifactRef, signal?: AbortSignal): Promise<NegotiateAnswer> {
    const kind = { namespace_kind: ref.namespace === DEFAULT_NAMESPACE ? 'default' : 'named' };
    let info = this.deps.knownKeys.get(ref);
    if (!info) {
      const stored = await this.deps.driver.head(ref, signal);
      if (!stored) {
        this.deps.metrics.cacheMisses.inc(kind);
        return { status: 'missing' };
      }
      info = stored;
      this.deps.knownKeys.remember(ref, info);
    }
    this.deps.metrics.cacheHits.inc(kind);
    const ttlMs = this.deps.presignTtl * 1000;
    let dl = this.deps.knownKeys.cachedDownload(ref, this.now(), ttlMs / 2);
    if (!dl) {
      dl = await this.deps.driver.presignDownload(ref, this.deps.presignTtl, info);
      this.deps.knownKeys.rememberDownload(ref, dl);
    }
    return { status: 'found', url: dl.url, expires_at: dl.expiresAt.toISOString(), size: info.size, sha256: info.sha256 };
  }

  private checkUploadInput(req: NegotiateRequest): { size: number; sha256: string } {
    if (req.size === undefined || req.sha256 === undefined) {
      throw new BadRequestError('uploads must declare size and sha256');
    }
    if (req.size > this.deps.maxArtifactSize) {
      throw new PayloadTooLargeError(`size ${req.size} exceeds the limit of ${this.deps.maxArtifactSize} bytes`);
    }
    if (req.parts) {
      const total = req.parts.reduce((sum, p) => sum + p.size, 0);
      if (total !== req.size) throw new BadRequestError(`parts add up to ${total} bytes, size says ${req.size}`);
      const small = req.parts.findIndex((p, i) => i < req.parts!.length - 1 && p.size < MIN_PART_SIZE);
      if (small >= 0) throw new BadRequestError(`parts.${small}.size: every part but the last must be at least ${MIN_PART_SIZE} bytes`);
    } else {
      if (req.size >= this.deps.multipartThreshold) {
        throw new BadRequestError(
          `artifacts of ${this.deps.multipartThreshold} bytes or more must be uploaded in parts: declare parts[]`,
          'multipart_required',
        );
      }
      if (this.deps.driver.capabilities.digest === 'md5' && !req.md5) {
        throw new BadRequestError('md5 is required: this store verifies uploads with Content-MD5');
      }
    }
    return { size: req.size, sha256: req.sha256 };
  }

  private async upload(ref: ArtifactRef, req: NegotiateRequest, signal?: AbortSignal): Promise<NegotiateAnswer> {
    const { size, sha256 } = this.checkUploadInput(req);
    if (this.deps.knownKeys.get(ref) || (await this.exists(ref, signal))) {
      this.deps.metrics.uploadsSkipped.inc();
      return { status: 'skipped' };
    }
    const intent = { ref, size, sha256, md5: req.md5 };
    if (req.parts) {
      const mp = await this.deps.driver.createMultipartUpload(intent, req.parts, this.deps.presignTtl, signal);
      return {
        status: 'upload_needed',
        expires_at: mp.expiresAt.toISOString(),
        multipart: {
          upload_id: mp.uploadId,
          parts: mp.parts.map((p) => ({ part_number: p.partNumber, url: p.url, method: 'PUT', headers: { ...p.headers } })),
        },
      };
    }
    const put = await this.deps.driver.presignUpload(intent, this.deps.presignTtl);
    return { status: 'upload_needed', url: put.url, method: 'PUT', headers: { ...put.headers }, expires_at: put.expiresAt.toISOString() };
  }

  /** Saves the client a wasted upload; the store's conditional write is what actually decides. */
  private async exists(ref: ArtifactRef, signal?: AbortSignal): Promise<boolean> {
    const info = await this.deps.driver.head(ref, signal);
    if (info) this.deps.knownKeys.remember(ref, info);
    return info !== null;
  }

  /** Each item answered on its own: one bad item or one store error does not fail the batch. */
  async batch(principal: Principal, items: readonly unknown[], signal?: AbortSignal): Promise<BatchItemAnswer[]> {
    const results: BatchItemAnswer[] = new Array<BatchItemAnswer>(items.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const i = next++;
        try {
          const req = parseOrThrow(negotiateRequestSchema, items[i]);
          results[i] = await this.negotiate(principal, req, signal);
        } catch (err) {
          results[i] = itemError(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_STORE_CONCURRENCY, items.length) }, worker));
    return results;
  }

  async complete(principal: Principal, req: CompleteRequest, signal?: AbortSignal): Promise<{ status: 'stored'; size: number; sha256: string } | { status: 'skipped' }> {
    const ref = this.writableRef(principal, req.namespace, req.hash);
    const parts = req.parts.map((p) => ({ partNumber: p.part_number, etag: p.etag }));
    const result = await this.deps.driver.completeMultipartUpload(ref, req.upload_id, parts, signal);
    if (result === 'exists') {
      this.deps.metrics.uploadsSkipped.inc();
      return { status: 'skipped' };
    }
    const info = await this.deps.driver.head(ref, signal);
    if (!info) throw new StorageUnavailableError('completed upload is not visible yet');
    this.deps.knownKeys.remember(ref, info);
    return { status: 'stored', size: info.size, sha256: info.sha256 };
  }

  async abort(principal: Principal, req: AbortRequest, signal?: AbortSignal): Promise<void> {
    const ref = this.writableRef(principal, req.namespace, req.hash);
    await this.deps.driver.abortMultipartUpload(ref, req.upload_id, signal);
  }

  private writableRef(principal: Principal, namespace: string | undefined, hash: string): ArtifactRef {
    const ref = { namespace: namespace ?? DEFAULT_NAMESPACE, hash };
    requireScope(principal, 'cache:write');
    requireNamespace(principal, ref.namespace);
    return ref;
  }
}

function itemError(err: unknown): BatchItemAnswer {
  if (err instanceof VelocityError) return { status: 'error', code: err.code, message: err.message };
  return { status: 'error', code: 'internal', message: 'internal error' };
}
