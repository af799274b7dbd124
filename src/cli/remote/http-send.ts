import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/** One HTTP exchange as the remote client needs it: small JSON bodies out, a byte stream back. */
export interface HttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The whole exchange, body included, must end within this; then it fails as timed out. */
  timeoutMs?: number;
  /** Aborts the exchange, body included (transfers: a TransferWatchdog decides). */
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  header(name: string): string | null;
  /** The body, chunk by chunk; read it to the end (or readAll) or call discard(). */
  body: AsyncIterable<Uint8Array>;
  /**
   * The whole body, or null as soon as it grows past `limit` bytes (the rest is discarded):
   * small bodies without an async iterator's promise per chunk.
   */
  readAll(limit: number, onChunk: (bytes: number) => void): Promise<Buffer | null>;
  discard(): void;
}

export type HttpSend = (req: HttpRequest) => Promise<HttpAnswer>;

/** The transport over an injected `fetch` (tests fake it; it works anywhere fetch does). */
export function fetchSend(fetchFn: typeof fetch): HttpSend {
  return async (req) => {
    const signals = [...(req.timeoutMs === undefined ? [] : [AbortSignal.timeout(req.timeoutMs)]), ...(req.signal ? [req.signal] : [])];
    const res = await fetchFn(req.url, {
      method: req.method,
      headers: req.headers,
      ...(req.body === undefined ? {} : { body: req.body }),
      ...(signals.length === 0 ? {} : { signal: AbortSignal.any(signals) }),
    });
    const body: AsyncIterable<Uint8Array> = (res.body as WebReadableStream<Uint8Array> | null) ?? (async function* () {})();
    const discard = (): void => void res.body?.cancel().catch(() => undefined);
    return {
      status: res.status,
      header: (name) => res.headers.get(name),
      body,
      readAll: async (limit, onChunk) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        for await (const chunk of body) {
          size += chunk.length;
          if (size > limit) {
            discard();
            return null;
          }
          chunks.push(chunk);
          onChunk(chunk.length);
        }
        return Buffer.concat(chunks, size);
      },
      discard,
    };
  };
}

const timedOut = (): Error => Object.assign(new Error('timed out'), { name: 'TimeoutError' });

/**
 * The transport the CLI uses for real: node:http(s) with keep-alive agents. On an all-hit run
 * the CLI makes one negotiation and a hundred small downloads; fetch costs ~25 ms to load on the
 * first call and noticeably more CPU per request (WHATWG streams), which a CLI pays every run.
 * Idle keep-alive sockets are unref'd by the agent, so they never hold the process open.
 */
export function nodeHttpSend(): HttpSend {
  const agents = new Map<string, Promise<{ request: typeof import('node:http').request; agent: HttpAgent }>>();
  const load = (protocol: string): Promise<{ request: typeof import('node:http').request; agent: HttpAgent }> => {
    let p = agents.get(protocol);
    if (!p) {
      // https (and TLS) only load when a URL needs them.
      p =
        protocol === 'https:'
          ? import('node:https').then((m) => ({ request: m.request, agent: new m.Agent({ keepAlive: true }) }))
          : import('node:http').then((m) => ({ request: m.request, agent: new m.Agent({ keepAlive: true }) }));
      agents.set(protocol, p);
    }
    return p;
  };
  return async (req) => {
    const url = new URL(req.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported URL protocol ${url.protocol}`);
    const { request, agent } = await load(url.protocol);
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const done = (): void => {
      clearTimeout(timer);
      if (onAbort) req.signal?.removeEventListener('abort', onAbort);
    };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = request(url, { method: req.method, headers, agent }, resolve);
      // A plain timer: an AbortSignal.timeout per request costs more than the request's parsing.
      if (req.timeoutMs !== undefined) timer = setTimeout(() => r.destroy(timedOut()), req.timeoutMs).unref();
      // Destroying the request ends its response too (mid-body: an error, never a short body).
      onAbort = () => r.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }));
      if (req.signal?.aborted) onAbort();
      else req.signal?.addEventListener('abort', onAbort, { once: true });
      r.on('error', (err) => {
        done();
        reject(err);
      });
      r.end(req.body);
    });
    res.once('close', done);
    return {
      status: res.statusCode ?? 0,
      header: (name) => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
      body: res as Readable & AsyncIterable<Uint8Array>,
      readAll: (limit, onChunk) =>
        new Promise<Buffer | null>((resolve, reject) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
              res.destroy();
              resolve(null);
              return;
            }
            chunks.push(chunk);
            onChunk(chunk.length);
          });
          res.once('end', () => resolve(Buffer.concat(chunks, size)));
          res.once('error', reject);
          // Destroyed by the timer (or the socket) before the end: an error, never a short body.
          res.once('close', () => {
            if (!res.complete && size <= limit) reject(res.errored ?? timedOut());
          });
        }),
      discard: () => res.resume(),
    };
  };
}
