import { createHash } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArtifactIntegrityError, RemoteUnavailableError } from '../errors.js';
import type { z } from 'zod';
import { fetchSend, type HttpAnswer, type HttpSend } from './http-send.js';
import { answerProblem, ArtifactGoneError, httpProblem, networkProblem, NOT_A_GATEWAY, ok, readText } from './problems.js';
import {
  batchAnswerSchema,
  capabilitiesSchema,
  completeAnswerSchema,
  negotiateAnswerSchema,
  type Capabilities,
  type NegotiateAnswer,
  type NegotiateRequest,
} from './protocol.js';
import { DEFAULT_TRANSFER_LIMITS, systemClock, TransferWatchdog, type TransferClock, type TransferLimits } from './transfer-watchdog.js';

export interface RemoteClientOptions {
  url: string;
  token: string;
  timeoutMs: number;
  fetch: typeof fetch;
  /** Transport for negotiation and downloads; defaults to one over `fetch`. */
  send?: HttpSend | undefined;
  /** When a presigned GET or PUT counts as stalled (velocity.yml `remote.transfer`). */
  transfer?: TransferLimits | undefined;
  /** The watchdogs' clock; the system's by default. */
  clock?: TransferClock | undefined;
}

/** A thin client of the gateway API (docs/api.md); every failure is a RemoteUnavailableError. */
export class RemoteClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #send: HttpSend;
  readonly #limits: TransferLimits;
  readonly #clock: TransferClock;

  constructor(opts: RemoteClientOptions) {
    this.url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs;
    this.#fetch = opts.fetch;
    this.#send = opts.send ?? fetchSend(opts.fetch);
    this.#limits = opts.transfer ?? DEFAULT_TRANSFER_LIMITS;
    this.#clock = opts.clock ?? systemClock;
  }

  /**
   * Runs one transfer under a watchdog (no byte for a while, or too few per second: aborted);
   * a stall is a RemoteUnavailableError saying so, whatever error the abort surfaced as.
   */
  async #watched<T>(what: string, run: (dog: TransferWatchdog) => Promise<T>): Promise<T> {
    const dog = new TransferWatchdog(what, this.#limits, this.#clock);
    try {
      return await run(dog);
    } catch (err) {
      throw dog.stalled ?? err;
    } finally {
      dog.stop();
    }
  }

  #headers(init: { body?: unknown; auth?: boolean }): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.auth !== false && this.#token !== '') headers.authorization = `Bearer ${this.#token}`;
    return headers;
  }

  async #call(path: string, init: { method: string; body?: unknown; auth?: boolean }): Promise<Response> {
    try {
      return await this.#fetch(`${this.url}${path}`, {
        method: init.method,
        headers: this.#headers(init),
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw networkProblem(`${init.method} ${this.url}${path}`, err);
    }
  }

  /** A JSON call whose answer must match `schema`: anything else means the remote is unusable. */
  async #json<T>(path: string, init: { method: string; body?: unknown; auth?: boolean }, schema: z.ZodType<T>): Promise<T> {
    const what = `${init.method} ${path}`;
    let text: string;
    try {
      const answer = await this.#send({
        method: init.method,
        url: `${this.url}${path}`,
        headers: this.#headers(init),
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        timeoutMs: this.#timeoutMs,
      });
      if (!ok(answer.status)) throw await answerProblem(what, answer);
      text = await readText(answer);
    } catch (err) {
      if (err instanceof RemoteUnavailableError) throw err;
      throw networkProblem(`${init.method} ${this.url}${path}`, err);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new RemoteUnavailableError(`${what}: the answer is not JSON`, { cause: err, hint: NOT_A_GATEWAY });
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '';
    throw new RemoteUnavailableError(`${what}: the answer is not valid (${where}${issue?.message ?? 'unexpected shape'})`, { hint: NOT_A_GATEWAY });
  }

  /** Raw access for `velocity doctor`, which inspects statuses and headers itself. */
  raw(path: string, init: { method: string; body?: unknown; auth?: boolean }): Promise<Response> {
    return this.#call(path, init);
  }

  /** A GET of a presigned URL, sorted into "remote unavailable" unless it answers 2xx. */
  async #get(url: string, dog: TransferWatchdog): Promise<HttpAnswer> {
    let answer: HttpAnswer;
    try {
      // No overall deadline: a big artifact may take long; the watchdog stops stalls.
      answer = await this.#send({ method: 'GET', url, headers: {}, signal: dog.signal });
    } catch (err) {
      throw networkProblem('download', err, { url, gateway: this.url });
    }
    if (answer.status === 404) {
      await readText(answer).catch(() => null);
      throw new ArtifactGoneError();
    }
    if (!ok(answer.status)) throw await answerProblem('download', answer);
    return answer;
  }

  capabilities(): Promise<Capabilities> {
    return this.#json('/v1/capabilities', { method: 'GET', auth: false }, capabilitiesSchema);
  }

  negotiate(item: NegotiateRequest): Promise<NegotiateAnswer> {
    return this.#json('/v1/negotiate', { method: 'POST', body: item }, negotiateAnswerSchema);
  }

  async negotiateBatch(items: readonly NegotiateRequest[]): Promise<NegotiateAnswer[]> {
    const { results } = await this.#json('/v1/negotiate/batch', { method: 'POST', body: { items } }, batchAnswerSchema);
    if (results.length !== items.length) {
      throw new RemoteUnavailableError('POST /v1/negotiate/batch: the answer does not match the request');
    }
    return results;
  }

  complete(body: { hash: string; namespace: string; upload_id: string; parts: Array<{ part_number: number; etag: string }> }): Promise<{ status: string }> {
    return this.#json('/v1/uploads/complete', { method: 'POST', body }, completeAnswerSchema);
  }

  async abort(body: { hash: string; namespace: string; upload_id: string }): Promise<void> {
    // Best effort, whatever the answer says.
    await this.#json('/v1/uploads/abort', { method: 'POST', body }, completeAnswerSchema.or(completeAnswerSchema.partial())).catch(() => undefined);
  }

  /**
   * GETs a presigned URL into `dest`, hashing on the way; the bytes must match `sha256` and
   * `size` from the `found` answer, or an ArtifactIntegrityError is thrown (a miss, not a failure).
   */
  async download(url: string, dest: string, expect: { sha256: string; size: number }, onBytes: (n: number) => void): Promise<void> {
    const hash = createHash('sha256');
    let size = 0;
    await this.#watched('download', async (dog) => {
      const answer = await this.#get(url, dog);
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          dog.progress(chunk.length);
          onBytes(chunk.length);
          done(null, chunk);
        },
      });
      try {
        await pipeline(Readable.from(answer.body, { objectMode: false }), meter, createWriteStream(dest));
      } catch (err) {
        throw networkProblem('download', err);
      }
    });
    const actual = hash.digest('hex');
    if (actual !== expect.sha256 || size !== expect.size) {
      throw new ArtifactIntegrityError(`downloaded artifact does not match its digest (got ${size} bytes, sha256 ${actual.slice(0, 12)}…; expected ${expect.size} bytes, ${expect.sha256.slice(0, 12)}…)`);
    }
  }

  /**
   * GETs a presigned URL into memory; the bytes must match `sha256` and `size` from the `found`
   * answer, or an ArtifactIntegrityError is thrown (a miss, not a failure), before the caller
   * sees them. For small artifacts: the caller restores straight from the verified bytes.
   */
  async fetchBytes(url: string, expect: { sha256: string; size: number }, onBytes: (n: number) => void): Promise<Buffer> {
    const bytes = await this.#watched('download', async (dog) => {
      const answer = await this.#get(url, dog);
      try {
        // Never buffer more than was announced: a longer body is a mismatch, known already.
        return await answer.readAll(expect.size, (n) => {
          dog.progress(n);
          onBytes(n);
        });
      } catch (err) {
        throw networkProblem('download', err);
      }
    });
    const actual = bytes ? createHash('sha256').update(bytes).digest('hex') : 'longer than announced';
    if (!bytes || actual !== expect.sha256 || bytes.length !== expect.size) {
      const got = bytes ? String(bytes.length) : `more than ${expect.size}`;
      throw new ArtifactIntegrityError(`downloaded artifact does not match its digest (got ${got} bytes, sha256 ${actual.slice(0, 12)}…; expected ${expect.size} bytes, ${expect.sha256.slice(0, 12)}…)`);
    }
    return bytes;
  }

  /**
   * PUTs `file` (or the byte range [start, end)) with exactly the negotiated headers. Returns
   * "skipped" on 412: the store already holds this key and first write wins.
   */
  async put(
    url: string,
    headers: Record<string, string>,
    file: string,
    range?: { start: number; end: number },
  ): Promise<{ status: 'stored' | 'skipped'; etag: string | null }> {
    const blob = await openAsBlob(file);
    const slice = range ? blob.slice(range.start, range.end) : blob;
    return this.#watched('upload', async (dog) => {
      // Streamed through a meter, so the watchdog sees the bytes leave (a Blob body is opaque);
      // the length is the signed one (the store refuses any other).
      const body = slice.stream().pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            dog.progress(chunk.length);
            controller.enqueue(chunk);
          },
        }),
      );
      const sized = Object.keys(headers).some((h) => h.toLowerCase() === 'content-length') ? headers : { ...headers, 'content-length': String(slice.size) };
      let res: Response;
      try {
        res = await this.#fetch(url, { method: 'PUT', headers: sized, body, duplex: 'half', signal: dog.signal });
      } catch (err) {
        throw networkProblem('upload', err, { url, gateway: this.url });
      }
      if (res.status === 412) {
        await res.body?.cancel();
        return { status: 'skipped', etag: null };
      }
      if (!res.ok) throw await httpProblem('upload', res);
      await res.body?.cancel();
      return { status: 'stored', etag: res.headers.get('etag') };
    });
  }
}
