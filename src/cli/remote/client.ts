import { createHash } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArtifactIntegrityError, RemoteUnavailableError } from '../errors.js';
import { fetchSend, type HttpAnswer, type HttpSend } from './http-send.js';
import type { Capabilities, NegotiateAnswer, NegotiateRequest } from './protocol.js';

export interface RemoteClientOptions {
  url: string;
  token: string;
  timeoutMs: number;
  fetch: typeof fetch;
  /** Transport for negotiation and downloads; defaults to one over `fetch`. */
  send?: HttpSend | undefined;
}

/** Transfers may take long; they fail only when no byte moves for this long. */
const TRANSFER_TIMEOUT_MS = 10 * 60_000;

const HINTS: Record<number, string> = {
  401: 'the token was not accepted: check remote.token in velocity.yml (and the variable it names)',
  403: 'the token lacks a scope or namespace: it needs cache:read to download and cache:write to upload',
};

/** Sorts a failed HTTP exchange into the one error the run understands: "remote unavailable". */
function problem(what: string, status: number, bodyText: string | null): RemoteUnavailableError {
  let detail = '';
  try {
    const body = JSON.parse(bodyText ?? '') as { code?: string; message?: string };
    detail = [body.code, body.message].filter(Boolean).join(': ');
  } catch {
    // Not JSON (e.g. an S3 XML error or a proxy page): the status says enough.
  }
  const hint = HINTS[status] ?? (status >= 500 ? 'the gateway or its store is failing; try again later' : undefined);
  return new RemoteUnavailableError(`${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`, {
    status,
    ...(hint ? { hint } : {}),
  });
}

export async function httpProblem(what: string, res: Response): Promise<RemoteUnavailableError> {
  return problem(what, res.status, await res.text().catch(() => null));
}

/** Answers of the gateway's API are small JSON documents; anything past this is not one. */
const MAX_JSON = 64 * 1024 * 1024;

async function readText(answer: HttpAnswer): Promise<string> {
  const bytes = await answer.readAll(MAX_JSON, () => undefined);
  if (!bytes) throw new RemoteUnavailableError(`the answer is larger than ${MAX_JSON} bytes`);
  return bytes.toString('utf8');
}

async function answerProblem(what: string, answer: HttpAnswer): Promise<RemoteUnavailableError> {
  return problem(what, answer.status, await readText(answer).catch(() => null));
}

const ok = (status: number): boolean => status >= 200 && status < 300;

function networkProblem(what: string, err: unknown): RemoteUnavailableError {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  // fetch wraps the socket error in `cause`; node:http throws it as is.
  const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.code ?? e.message);
  return new RemoteUnavailableError(`${what}: ${reason}`, { hint: 'check remote.url and that the gateway is reachable from here', cause: err });
}

/** A thin client of the gateway API (docs/api.md); every failure is a RemoteUnavailableError. */
export class RemoteClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #send: HttpSend;

  constructor(opts: RemoteClientOptions) {
    this.url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs;
    this.#fetch = opts.fetch;
    this.#send = opts.send ?? fetchSend(opts.fetch);
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

  async #json<T>(path: string, init: { method: string; body?: unknown; auth?: boolean }): Promise<T> {
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
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new RemoteUnavailableError(`${what}: the answer is not JSON`, { cause: err });
    }
  }

  /** Raw access for `velocity doctor`, which inspects statuses and headers itself. */
  raw(path: string, init: { method: string; body?: unknown; auth?: boolean }): Promise<Response> {
    return this.#call(path, init);
  }

  /** A GET of a presigned URL, sorted into "remote unavailable" unless it answers 2xx. */
  async #get(url: string): Promise<HttpAnswer> {
    let answer: HttpAnswer;
    try {
      answer = await this.#send({ method: 'GET', url, headers: {}, timeoutMs: TRANSFER_TIMEOUT_MS });
    } catch (err) {
      throw networkProblem('download', err);
    }
    if (!ok(answer.status)) throw await answerProblem('download', answer);
    return answer;
  }

  capabilities(): Promise<Capabilities> {
    return this.#json<Capabilities>('/v1/capabilities', { method: 'GET', auth: false });
  }

  negotiate(item: NegotiateRequest): Promise<NegotiateAnswer> {
    return this.#json<NegotiateAnswer>('/v1/negotiate', { method: 'POST', body: item });
  }

  async negotiateBatch(items: readonly NegotiateRequest[]): Promise<NegotiateAnswer[]> {
    const { results } = await this.#json<{ results: NegotiateAnswer[] }>('/v1/negotiate/batch', { method: 'POST', body: { items } });
    if (!Array.isArray(results) || results.length !== items.length) {
      throw new RemoteUnavailableError('POST /v1/negotiate/batch: the answer does not match the request');
    }
    return results;
  }

  complete(body: { hash: string; namespace: string; upload_id: string; parts: Array<{ part_number: number; etag: string }> }): Promise<{ status: string }> {
    return this.#json('/v1/uploads/complete', { method: 'POST', body });
  }

  async abort(body: { hash: string; namespace: string; upload_id: string }): Promise<void> {
    await this.#json('/v1/uploads/abort', { method: 'POST', body }).catch(() => undefined);
  }

  /**
   * GETs a presigned URL into `dest`, hashing on the way; the bytes must match `sha256` and
   * `size` from the `found` answer, or an ArtifactIntegrityError is thrown (a miss, not a failure).
   */
  async download(url: string, dest: string, expect: { sha256: string; size: number }, onBytes: (n: number) => void): Promise<void> {
    const answer = await this.#get(url);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        onBytes(chunk.length);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.from(answer.body, { objectMode: false }), meter, createWriteStream(dest));
    } catch (err) {
      throw networkProblem('download', err);
    }
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
    const answer = await this.#get(url);
    let bytes: Buffer | null;
    try {
      // Never buffer more than was announced: a longer body is a mismatch, known already.
      bytes = await answer.readAll(expect.size, onBytes);
    } catch (err) {
      throw networkProblem('download', err);
    }
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
    const body = range ? blob.slice(range.start, range.end) : blob;
    let res: Response;
    try {
      res = await this.#fetch(url, { method: 'PUT', headers, body, signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) });
    } catch (err) {
      throw networkProblem('upload', err);
    }
    if (res.status === 412) {
      await res.body?.cancel();
      return { status: 'skipped', etag: null };
    }
    if (!res.ok) throw await httpProblem('upload', res);
    await res.body?.cancel();
    return { status: 'stored', etag: res.headers.get('etag') };
  }
}
