import { ArtifactIntegrityError, RemoteUnavailableError } from '../errors.js';
import type { Digests } from '../archive/digest.js';
import { Batcher } from './batcher.js';
import type { RemoteClient } from './client.js';
import { ArtifactGoneError } from './problems.js';
import { MAX_BATCH, type Capabilities, type FoundAnswer, type NegotiateAnswer, type NegotiateRequest } from './protocol.js';
import type { TransferProgress } from '../report/progress.js';

export type UploadOutcome = 'uploaded' | 'skipped' | 'unavailable';

/**
 * The remote cache as a run sees it. The first remote problem (unreachable, timeout, 5xx, bad
 * token, missing scope) prints one warning and switches the remote off for the rest of the run:
 * it is never a miss to fill and never a failed run.
 */
export class RemoteCache {
  readonly #client: RemoteClient;
  readonly #namespace: string;
  readonly #warn: (message: string) => void;
  readonly #progress: TransferProgress;
  readonly #batcher: Batcher<NegotiateRequest, NegotiateAnswer>;
  #capabilities: Promise<Capabilities> | undefined;
  #disabled = false;
  problem: RemoteUnavailableError | undefined;

  constructor(opts: { client: RemoteClient; namespace: string; warn: (message: string) => void; progress: TransferProgress }) {
    this.#client = opts.client;
    this.#namespace = opts.namespace;
    this.#warn = opts.warn;
    this.#progress = opts.progress;
    this.#batcher = new Batcher(
      (items) => (items.length === 1 ? this.#client.negotiate(items[0] as NegotiateRequest).then((r) => [r]) : this.#client.negotiateBatch(items)),
      MAX_BATCH,
    );
  }

  get enabled(): boolean {
    return !this.#disabled;
  }

  /** Remote problems disable the remote (one warning); anything else is rethrown. */
  #fail(err: unknown): void {
    if (!(err instanceof RemoteUnavailableError)) throw err;
    if (this.#disabled) return;
    this.#disabled = true;
    this.problem = err;
    this.#warn(`remote cache unavailable, continuing without it: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`);
  }

  #answer(a: NegotiateAnswer): NegotiateAnswer {
    if (a.status === 'error') throw new RemoteUnavailableError(`negotiation refused: ${a.code}: ${a.message}`);
    return a;
  }

  /** Download negotiation for many keys in as few requests as possible; null = not found (or remote off). */
  async lookup(keys: readonly string[]): Promise<Map<string, FoundAnswer | null>> {
    const out = new Map<string, FoundAnswer | null>(keys.map((k) => [k, null]));
    if (this.#disabled || keys.length === 0) return out;
    try {
      const answers = await Promise.all(
        keys.map((hash) => this.#batcher.request({ hash, action: 'download', namespace: this.#namespace })),
      );
      answers.forEach((a, i) => {
        const answer = this.#answer(a);
        if (answer.status === 'found') out.set(keys[i] as string, answer);
      });
    } catch (err) {
      this.#fail(err);
      return new Map(keys.map((k) => [k, null]));
    }
    return out;
  }

  /**
   * Downloads a found artifact into `dest`, verified against its digest. Returns false when the
   * artifact cannot be used (remote problem: warned once; digest mismatch: warned, a miss).
   */
  async download(label: string, found: FoundAnswer, dest: string): Promise<boolean> {
    return this.#transfer(label, found, false, async (advance) => {
      await this.#client.download(found.url, dest, found, advance);
      return true;
    });
  }

  /**
   * Downloads a found artifact into memory, verified against its digest. Returns null when it
   * cannot be used (remote problem: warned once; digest mismatch: warned, a miss).
   */
  async fetchBytes(label: string, found: FoundAnswer): Promise<Buffer | null> {
    return this.#transfer(label, found, null, (advance) => this.#client.fetchBytes(found.url, found, advance));
  }

  /** One download with a progress bar; any failure yields `unusable` (warned; remote problems disable the remote). */
  async #transfer<T>(label: string, found: FoundAnswer, unusable: T, run: (advance: (n: number) => void) => Promise<T>): Promise<T> {
    if (this.#disabled) return unusable;
    const bar = this.#progress.start(`↓ ${label}`, found.size);
    try {
      return await run((n) => bar.advance(n));
    } catch (err) {
      if (err instanceof ArtifactIntegrityError) this.#warn(`${label}: ${err.message}; running the task instead`);
      // Evicted between the negotiation and the download: a plain miss, and the remote stays on.
      else if (!(err instanceof ArtifactGoneError)) this.#fail(err);
      return unusable;
    } finally {
      bar.stop();
    }
  }

  #caps(): Promise<Capabilities> {
    this.#capabilities ??= this.#client.capabilities();
    return this.#capabilities;
  }

  /** Negotiates and uploads one archive. `skipped` (and a 412 from the store) mean someone else wrote it first. */
  async upload(label: string, key: string, file: string, digests: Digests): Promise<UploadOutcome> {
    if (this.#disabled) return 'unavailable';
    const bar = this.#progress.start(`↑ ${label}`, digests.size);
    try {
      const caps = await this.#caps();
      // At or above the threshold the gateway requires parts[], even when one part holds it all.
      const multipart = digests.size >= caps.multipart_threshold;
      const request: NegotiateRequest = {
        hash: key,
        action: 'upload',
        namespace: this.#namespace,
        size: digests.size,
        sha256: digests.sha256,
        ...(caps.integrity === 'md5' ? { md5: digests.md5 } : {}),
        ...(multipart ? { parts: digests.parts } : {}),
      };
      const answer = this.#answer(await this.#batcher.request(request));
      if (answer.status === 'skipped') return 'skipped';
      if (answer.status !== 'upload_needed') throw new RemoteUnavailableError(`upload negotiation answered ${answer.status}`);
      if (answer.multipart) return await this.#multipart(key, file, answer.multipart, digests, (n) => bar.advance(n));
      if (!answer.url || !answer.headers) throw new RemoteUnavailableError('upload negotiation answered without a URL');
      const put = await this.#client.put(answer.url, answer.headers, file);
      bar.advance(digests.size);
      return put.status === 'skipped' ? 'skipped' : 'uploaded';
    } catch (err) {
      this.#fail(err);
      return 'unavailable';
    } finally {
      bar.stop();
    }
  }

  async #multipart(
    key: string,
    file: string,
    mp: { upload_id: string; parts: Array<{ part_number: number; url: string; headers: Record<string, string> }> },
    digests: Digests,
    advance: (n: number) => void,
  ): Promise<UploadOutcome> {
    const ids = { hash: key, namespace: this.#namespace, upload_id: mp.upload_id };
    try {
      const etags: Array<{ part_number: number; etag: string }> = [];
      let offset = 0;
      const ranges = digests.parts.map((p) => {
        const r = { start: offset, end: offset + p.size };
        offset += p.size;
        return r;
      });
      // A few parts at a time: parallel enough for throughput, bounded in sockets.
      for (let i = 0; i < mp.parts.length; i += 4) {
        const batch = mp.parts.slice(i, i + 4);
        const done = await Promise.all(
          batch.map(async (part) => {
            const range = ranges[part.part_number - 1];
            if (!range) throw new RemoteUnavailableError(`multipart answer names unknown part ${part.part_number}`);
            const r = await this.#client.put(part.url, part.headers, file, range);
            advance(range.end - range.start);
            return { part_number: part.part_number, etag: r.etag ?? '' };
          }),
        );
        etags.push(...done);
      }
      const result = await this.#client.complete({ ...ids, parts: etags });
      return result.status === 'skipped' ? 'skipped' : 'uploaded';
    } catch (err) {
      await this.#client.abort(ids);
      throw err;
    }
  }
}
