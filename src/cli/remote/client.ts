import { createHash } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ArtifactIntegrityError, RemoteUnavailableError } from '../errors.js';
import type { Capabilities, NegotiateAnswer, NegotiateRequest } from './protocol.js';

export interface RemoteClientOptions {
  url: string;
  token: string;
  timeoutMs: number;
  fetch: typeof fetch;
}

/** Transfers may take long; they fail only when no byte moves for this long. */
const TRANSFER_TIMEOUT_MS = 10 * 60_000;

const HINTS: Record<number, string> = {
  401: 'the token was not accepted: check remote.token in velocity.yml (and the variable it names)',
  403: 'the token lacks a scope or namespace: it needs cache:read to download and cache:write to upload',
};

/** Sorts a failed HTTP exchange into the one error the run understands: "remote unavailable". */
export async function httpProblem(what: string, res: Response): Promise<RemoteUnavailableError> {
  let detail = '';
  try {
    const body = (await res.json()) as { code?: string; message?: string };
    detail = [body.code, body.message].filter(Boolean).join(': ');
  } catch {
    // Not JSON (e.g. an S3 XML error or a proxy page): the status says enough.
  }
  const hint = HINTS[res.status] ?? (res.status >= 500 ? 'the gateway or its store is failing; try again later' : undefined);
  return new RemoteUnavailableError(`${what}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`, {
    status: res.status,
    ...(hint ? { hint } : {}),
  });
}

function networkProblem(what: string, err: unknown): RemoteUnavailableError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.message);
  return new RemoteUnavailableError(`${what}: ${reason}`, { hint: 'check remote.url and that the gateway is reachable from here', cause: err });
}

/** A thin client of the gateway API (docs/api.md); every failure is a RemoteUnavailableError. */
export class RemoteClient {
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: RemoteClientOptions) {
    this.url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs;
    this.#fetch = opts.fetch;
  }

  async #call(path: string, init: { method: string; body?: unknown; auth?: boolean }): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.auth !== false && this.#token !== '') headers.authorization = `Bearer ${this.#token}`;
    try {
      return await this.#fetch(`${this.url}${path}`, {
        method: init.method,
        headers,
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw networkProblem(`${init.method} ${this.url}${path}`, err);
    }
  }

  async #json<T>(path: string, init: { method: string; body?: unknown; auth?: boolean }): Promise<T> {
    const res = await this.#call(path, init);
    if (!res.ok) throw await httpProblem(`${init.method} ${path}`, res);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw new RemoteUnavailableError(`${init.method} ${path}: the answer is not JSON`, { cause: err });
    }
  }

  /** Raw access for `velocity doctor`, which inspects statuses and headers itself. */
  raw(path: string, init: { method: string; body?: unknown; auth?: boolean }): Promise<Response> {
    return this.#call(path, init);
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
    let res: Response;
    try {
      res = await this.#fetch(url, { signal: AbortSignal.timeout(TRANSFER_TIMEOUT_MS) });
    } catch (err) {
      throw networkProblem('download', err);
    }
    if (!res.ok || !res.body) throw await httpProblem('download', res);
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
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), meter, createWriteStream(dest));
    } catch (err) {
      throw networkProblem('download', err);
    }
    const actual = hash.digest('hex');
    if (actual !== expect.sha256 || size !== expect.size) {
      throw new ArtifactIntegrityError(`downloaded artifact does not match its digest (got ${size} bytes, sha256 ${actual.slice(0, 12)}…; expected ${expect.size} bytes, ${expect.sha256.slice(0, 12)}…)`);
    }
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
