import { setMaxListeners } from 'node:events';
import type { Metrics } from '../metrics/create-metrics.js';
import { namespaceKind } from '../metrics/label-sets.js';
import { requireNamespace, requireScope, type Principal } from '../auth/principal.js';
import { BadRequestError, PayloadTooLargeError, VelocityError } from '../errors.js';
import type { AccessRecorder } from '../lifecycle/access-counter.js';
import type { ArtifactRef, MultipartFacet, StorageDriver } from '../storage/driver.js';
import { StorageUnavailableError, isStorageOutage } from '../storage/errors.js';
import { presignFacet } from '../storage/presign-download.js';
import { DEFAULT_NAMESPACE } from '../storage/object-keys.js';
import type { KnownKeys } from './known-keys.js';
import type { RecentMisses } from './recent-misses.js';
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
  /** Counts every `found` (access statistics for eviction); one Map update, no I/O. */
  readonly access?: AccessRecorder;
  /** Keys a download negotiation just found missing: the upload that follows skips the store HEAD. */
  readonly recentMisses?: RecentMisses;
  readonly metrics: Metrics;
  readonly presignTtl: number;
  readonly maxArtifactSize: number;
  readonly multipartThreshold: number;
  /** Where errors that are not part of the protocol go (a batch answers them per item). */
  readonly onUnexpectedError?: (err: unknown) => void;
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
  /** Metric children bound once: label hashing on every negotiation adds up on the hit path. */
  private readonly latency = new Map<string, { observe(v: number): void }>();
  private readonly hits: Record<'default' | 'named', { inc(): void }>;
  private readonly misses: Record<'default' | 'named', { inc(): void }>;

  constructor(private readonly deps: NegotiatorDeps) {
    const { cacheHits, cacheMisses } = deps.metrics;
    this.hits = { default: cacheHits.labels('velocity', 'default'), named: cacheHits.labels('velocity', 'named') };
    this.misses = { default: cacheMisses.labels('velocity', 'default'), named: cacheMisses.labels('velocity', 'named') };
  }

  private observe(action: string, status: string, seconds: number): void {
    const key = `${action} ${status}`;
    let h = this.latency.get(key);
    if (!h) this.latency.set(key, (h = this.deps.metrics.negotiationLatency.labels(action, status)));
    h.observe(seconds);
  }

  /**
   * `signal` may be a function: it is then called only when the store is asked, so a hit never
   * pays for an AbortSignal.
   */
  async negotiate(principal: Principal, req: NegotiateRequest, signal?: SignalSource): Promise<NegotiateAnswer> {
    const started = performance.now();
    let status = 'error';
    let asked: AbortSignal | undefined;
    const storeSignal = (): AbortSignal | undefined => (asked ??= resolve(signal));
    try {
      const ref = { namespace: req.namespace ?? DEFAULT_NAMESPACE, hash: req.hash };
      requireScope(principal, req.action === 'download' ? 'cache:read' : 'cache:write');
      requireNamespace(principal, ref.namespace);
      const answer = req.action === 'download' ? await this.download(ref, storeSignal) : await this.upload(ref, req, storeSignal);
      status = answer.status;
      return answer;
    } catch (err) {
      // A store call cut short because the client left is not an outage.
      if (asked?.aborted) throw asked.reason;
      throw err;
    } finally {
      this.observe(req.action, status, (performance.now() - started) / 1000);
    }
  }

  private async download(ref: ArtifactRef, signal: () => AbortSignal | undefined): Promise<NegotiateAnswer> {
    const kind = namespaceKind(ref.namespace);
    const known = this.deps.knownKeys;
    const entry = known.entry(ref) ?? (await known.lookup(ref, (r) => this.deps.driver.head(r, signal())));
    if (!entry) {
      this.misses[kind].inc();
      this.deps.recentMisses?.note(ref);
      return { status: 'missing' };
    }
    this.hits[kind].inc();
    this.deps.access?.hit(ref);
    const dl = known.cachedDownload(entry, this.deps.presignTtl) ?? (await known.downloadUrl(entry, presignFacet(this.deps.driver), this.deps.presignTtl));
    const { info } = entry;
    return { status: 'found', url: dl.request.url, expires_at: dl.expiresAtIso, size: info.size, sha256: info.sha256 };
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

  private async upload(ref: ArtifactRef, req: NegotiateRequest, signal: () => AbortSignal | undefined): Promise<NegotiateAnswer> {
    const { size, sha256 } = this.checkUploadInput(req);
    // The store is not asked about a key a download negotiation found missing moments ago: the CI
    // flow asks to download before it builds and uploads, and a second HEAD would only repeat that
    // answer. The first upload offer takes the remembered miss, so a second job uploading the same
    // key is asked about again, and is told `skipped` once the first upload has landed.
    if (this.deps.knownKeys.get(ref) || (!this.deps.recentMisses?.take(ref) && (await this.exists(ref, signal())))) {
      this.deps.metrics.uploadsSkipped.inc();
      return { status: 'skipped' };
    }
    const intent = { ref, size, sha256, md5: req.md5 };
    if (req.parts) {
      const mp = await this.multipart().create(intent, req.parts, this.deps.presignTtl, signal());
      return {
        status: 'upload_needed',
        expires_at: mp.expiresAt.toISOString(),
        multipart: {
          upload_id: mp.uploadId,
          parts: mp.parts.map((p) => ({ part_number: p.partNumber, url: p.url, method: 'PUT', headers: { ...p.headers } })),
        },
      };
    }
    const put = await presignFacet(this.deps.driver).upload(intent, this.deps.presignTtl);
    return { status: 'upload_needed', url: put.url, method: 'PUT', headers: { ...put.headers }, expires_at: put.expiresAt.toISOString() };
  }

  /** Saves the client a wasted upload; the store's conditional write is what actually decides. */
  private async exists(ref: ArtifactRef, signal?: AbortSignal): Promise<boolean> {
    const handle = await this.deps.driver.head(ref, signal);
    if (handle) this.deps.knownKeys.remember(handle);
    return handle !== null;
  }

  /** Each item answered on its own: one bad item or one store error does not fail the batch. */
  async batch(principal: Principal, items: readonly unknown[], signal?: SignalSource): Promise<BatchItemAnswer[]> {
    const results: BatchItemAnswer[] = new Array<BatchItemAnswer>(items.length);
    // One signal for the whole batch, made when the first item needs the store; every store
    // call in flight listens to it.
    let shared: AbortSignal | undefined;
    const batchSignal = (): AbortSignal | undefined => {
      if (!shared && signal) {
        shared = resolve(signal);
        if (shared) setMaxListeners(BATCH_STORE_CONCURRENCY * 2, shared);
      }
      return shared;
    };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const i = next++;
        try {
          const req = parseOrThrow(negotiateRequestSchema, items[i]);
          results[i] = await this.negotiate(principal, req, batchSignal);
        } catch (err) {
          if (!(err instanceof VelocityError)) this.deps.onUnexpectedError?.(err);
          // A single negotiation's outage is counted by the error boundary; a batch answers it here.
          if (isStorageOutage(err)) this.deps.metrics.storageErrors.inc({ operation: 'negotiate' });
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
    const result = await this.multipart().complete(ref, req.upload_id, parts, signal);
    if (result === 'exists') {
      this.deps.metrics.uploadsSkipped.inc();
      return { status: 'skipped' };
    }
    const handle = await this.deps.driver.head(ref, signal);
    if (!handle) throw new StorageUnavailableError('completed upload is not visible yet');
    this.deps.knownKeys.remember(handle);
    return { status: 'stored', size: handle.info.size, sha256: handle.info.sha256 };
  }

  async abort(principal: Principal, req: AbortRequest, signal?: AbortSignal): Promise<void> {
    const ref = this.writableRef(principal, req.namespace, req.hash);
    await this.multipart().abort(ref, req.upload_id, signal);
  }

  private multipart(): MultipartFacet {
    const facet = this.deps.driver.multipart;
    if (!facet) throw new BadRequestError(`the ${this.deps.driver.name} store does not take uploads in parts`, 'multipart_unsupported');
    return facet;
  }

  private writableRef(principal: Principal, namespace: string | undefined, hash: string): ArtifactRef {
    const ref = { namespace: namespace ?? DEFAULT_NAMESPACE, hash };
    requireScope(principal, 'cache:write');
    requireNamespace(principal, ref.namespace);
    return ref;
  }
}

export type SignalSource = AbortSignal | (() => AbortSignal | undefined);

function resolve(signal: SignalSource | undefined): AbortSignal | undefined {
  return typeof signal === 'function' ? signal() : signal;
}

function itemError(err: unknown): BatchItemAnswer {
  if (err instanceof VelocityError) return { status: 'error', code: err.code, message: err.clientMessage };
  return { status: 'error', code: 'internal', message: 'internal error' };
}
