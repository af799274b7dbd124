import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DecodeError, decodeBuildRequest, validationMessage, violations, type DecodedRequest, type VeloxGeneration } from './builds-velox-request.js';

/**
 * A stand-in for a Velox server. A real one needs Go and the internet to build RoadRunner, which
 * the test suite cannot count on, so this follows Velox's sources instead:
 *
 * - `v3` (default): roadrunner-server/velox master (commit 69a76ae), internal/cli/server/server.go
 *   and command.go, api/request/v1/request.proto (fields 1-9), builder/builder.go;
 * - `released`: tag v2025.2-beta.2, the same files: request fields 1-5 only.
 *
 * What it keeps from them: Connect unary JSON on `POST /api.service.v1.BuildService/Build`;
 * request validation (connectrpc.com/validate: `invalid_argument`, the only cause of that code);
 * a missing target_platform filled with the host's (v3: before the cache key is made; released:
 * after); concurrent identical builds answered `already_exists` (v3's key leaves request_id out
 * and sorts the lists; the released key includes request_id and keeps the order); a cache hit
 * answers "cached output, logs are available only on the first build" unless force_rebuild;
 * every build failure `internal` ("downloading template: ...", "building plugins: ...", Windows
 * on v3); no logs on a fresh v3 build (the released server returns its build log);
 * `Connect-Timeout-Ms` ends a v3 build (`internal`, "context deadline exceeded": server.go wraps
 * every error in CodeInternal) and is ignored by the released one (its Build ignores its context);
 * Go's plain-text 404 for other paths, connect-go's empty 415 (with Accept-Post) for another
 * content type and 405 (Allow: POST) for another method. It exposes no version: neither does
 * Velox (the BuildService and gRPC reflection, bidi-only, 505 over HTTP/1.1).
 */
export const CONNECT_STATUS: Readonly<Record<string, number>> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};

export interface ConnectFailure {
  readonly code: keyof typeof CONNECT_STATUS;
  readonly message: string;
}

/**
 * What a network can answer instead of Velox: the connection dropped without an answer, or a
 * proxy's own page (a 502 without a Connect body).
 */
export type TransportFailure = { readonly drop: true } | { readonly status: number; readonly text: string };
export type ScriptedFailure = ConnectFailure | TransportFailure;

/** Failures as Velox words them (server.go, github.go, builder.go); each is `internal`. */
export const VELOX_FAILURES = {
  goModTidy: (detail = 'github.com/x/y@v9.9.9: invalid version: unknown revision v9.9.9'): ConnectFailure => ({
    code: 'internal',
    message: `building plugins: go mod tidy: go failed: exit status 1\n--- stderr (last 80 bytes) ---\ngo: ${detail}`,
  }),
  proxyDown: (): ConnectFailure => ({
    code: 'internal',
    message:
      'building plugins: go mod tidy: go failed: exit status 1\n--- stderr (last 120 bytes) ---\n' +
      'go: github.com/roadrunner-server/http/v5@v5.0.2: Get "https://proxy.golang.org/...": dial tcp 142.250.74.17:443: i/o timeout',
  }),
  templateNotFound: (ref = 'v9999.0.0'): ConnectFailure => ({
    code: 'internal',
    message: `downloading template: expected 3xx redirect from https://github.com/roadrunner-server/roadrunner/archive/refs/tags/${ref}.zip, got 404`,
  }),
  templateRateLimited: (): ConnectFailure => ({
    code: 'internal',
    message: 'downloading template: expected 3xx redirect from https://github.com/roadrunner-server/roadrunner/archive/refs/tags/v2025.1.2.zip, got 429',
  }),
} as const;

export interface StandInOptions {
  /** Shared "volume" the binaries are written to. */
  readonly outDir: string;
  /** Which Velox it follows (default `v3`). */
  readonly generation?: VeloxGeneration;
  /** How long one build takes (ms). */
  delayMs?: number;
  /** Answers for the next valid calls, in order, before builds succeed again. */
  failures?: ScriptedFailure[];
  /** Size of the binaries it makes (bytes). */
  readonly binarySize?: number;
  /** Mixed into the bytes it builds: change it to make a rebuild's output differ. */
  salt?: string;
  /** GOOS/GOARCH of the host, filled in for a request without target_platform. */
  readonly hostPlatform?: { readonly os: string; readonly arch: string };
}

export interface CallRecord {
  readonly at: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
  /** What the server made of it (unknown fields dropped, defaults filled). */
  readonly decoded: DecodedRequest;
  /** Its answer: `ok`, `cached` or a Connect code. */
  answer?: string;
}

export interface VeloxStandIn {
  readonly url: string;
  readonly options: StandInOptions;
  /** Every valid Build call (past validation), in order. */
  readonly calls: CallRecord[];
  /** Calls refused by validation (capability probes among them), with the message sent. */
  readonly invalid: { readonly body: unknown; readonly message: string }[];
  /** Builds that completed successfully. */
  builds: number;
  /** Builds running right now, and the most that ever ran at once. */
  running: number;
  maxRunning: number;
  close(): Promise<void>;
}

/** What the stand-in builds for a request: deterministic bytes derived from what it asks for. */
export function standInBinary(body: Record<string, unknown>, size: number, salt = ''): Buffer {
  const { request_id: _id, force_rebuild: _force, ...what } = body;
  const seed = createHash('sha256').update(JSON.stringify(what)).update(salt).digest();
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i);
  return out;
}

/** server.go's generateCacheHash, by generation (a SHA-256 here instead of FNV-64a: same equalities). */
function cacheKey(req: DecodedRequest, generation: VeloxGeneration): string {
  // Go's slices.SortStableFunc with cmp.Compare: byte order, stable.
  const by =
    <T>(f: (x: T) => string) =>
    (a: T, b: T) =>
      f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0;
  const keyed =
    generation === 'v3'
      ? [
          req.rr_version,
          req.target_platform,
          [...req.plugins].sort(by((p: { module_name: string; tag: string }) => `${p.module_name}\0${p.tag}`)),
          [...req.replaces].sort(by((r: { old: string }) => r.old)),
          [...req.excludes].sort(by((e: { module: string; version: string }) => `${e.module}\0${e.version}`)),
          req.race,
          req.debug,
        ]
      : [req.request_id, req.rr_version, req.target_platform, req.plugins];
  return createHash('sha256').update(JSON.stringify(keyed)).digest('hex').slice(0, 16);
}

export async function startVeloxStandIn(options: StandInOptions): Promise<VeloxStandIn> {
  await mkdir(options.outDir, { recursive: true });
  const generation = options.generation ?? 'v3';
  const host = options.hostPlatform ?? { os: 'linux', arch: 'amd64' };
  const inFlight = new Set<string>();
  const cache = new Map<string, string>();
  const state: VeloxStandIn = {
    url: '',
    options,
    calls: [],
    invalid: [],
    builds: 0,
    running: 0,
    maxRunning: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };

  const connectError = (res: ServerResponse, failure: ConnectFailure) => {
    res.writeHead(CONNECT_STATUS[failure.code] ?? 500, { 'content-type': 'application/json' });
    res.end(JSON.stringify(failure));
  };

  async function build(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, call: CallRecord): Promise<void> {
    const msg = call.decoded;
    if (generation === 'v3' && !msg.target_platform) msg.target_platform = { ...host };
    const hash = cacheKey(msg, generation);
    const answer = (a: string) => (call.answer = a);
    if (inFlight.has(hash)) {
      answer('already_exists');
      const message = generation === 'v3' ? `build ${hash} is already in progress` : 'build is already in progress';
      return connectError(res, { code: 'already_exists', message });
    }
    const scripted = options.failures?.shift();
    if (scripted && 'drop' in scripted) {
      answer('dropped');
      return void req.socket.destroy();
    }
    if (scripted && 'status' in scripted) {
      answer(`http_${scripted.status}`);
      res.writeHead(scripted.status, { 'content-type': 'text/html' });
      return void res.end(scripted.text);
    }
    if (scripted) {
      answer(scripted.code);
      return connectError(res, scripted);
    }
    const cached = cache.get(hash);
    if (cached !== undefined && !msg.force_rebuild) {
      answer('cached');
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ path: cached, logs: 'cached output, logs are available only on the first build' }));
    }
    if (generation === 'released' && !msg.target_platform) msg.target_platform = { ...host };
    inFlight.add(hash);
    state.running++;
    state.maxRunning = Math.max(state.maxRunning, state.running);
    // v3 runs the build under the request's context: Connect-Timeout-Ms or a client that leaves ends it.
    const timeoutMs = Number(req.headers['connect-timeout-ms'] ?? 0);
    const ended = new AbortController();
    if (generation === 'v3') res.on('close', () => ended.abort());
    try {
      const took = await new Promise<'done' | 'deadline' | 'gone'>((resolve) => {
        const t = setTimeout(() => resolve('done'), options.delayMs ?? 0);
        if (generation === 'v3' && timeoutMs > 0) setTimeout(() => (clearTimeout(t), resolve('deadline')), timeoutMs).unref();
        ended.signal.addEventListener('abort', () => (clearTimeout(t), resolve('gone')));
      });
      if (took !== 'done') {
        answer('internal');
        return connectError(res, { code: 'internal', message: `building plugins: go mod tidy: context ${took === 'deadline' ? 'deadline exceeded' : 'canceled'}` });
      }
      if (generation === 'v3' && msg.target_platform?.os.toLowerCase() === 'windows') {
        answer('internal');
        return connectError(res, { code: 'internal', message: 'building plugins: velox v3 does not support Windows targets' });
      }
      // builder.relocate: the binary is renamed into <tmp>/<hash>/rr, replacing an earlier one.
      const dir = join(options.outDir, hash);
      await mkdir(dir, { recursive: true });
      const path = join(dir, msg.target_platform?.os === 'windows' ? 'rr.exe' : 'rr');
      await writeFile(`${path}.tmp`, standInBinary(body, options.binarySize ?? 64 * 1024, options.salt));
      await rename(`${path}.tmp`, path);
      cache.set(hash, path);
      state.builds++;
      answer('ok');
      res.writeHead(200, { 'content-type': 'application/json' });
      // Velox v3 returns no logs for a fresh build; the released server returns its build log.
      const logs = generation === 'v3' ? undefined : `velox: building ${msg.rr_version}\nvelox: done\n`;
      res.end(JSON.stringify(logs === undefined ? { path } : { path, logs }));
    } finally {
      inFlight.delete(hash);
      state.running--;
    }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/grpc.reflection.v1.ServerReflection/')) {
        // A bidi stream: connect-go refuses HTTP/1.1 and closes the connection.
        res.writeHead(505, { connection: 'close' });
        return void res.end();
      }
      if (req.url !== '/api.service.v1.BuildService/Build') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
        return void res.end('404 page not found\n');
      }
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' });
        return void res.end();
      }
      const type = String(req.headers['content-type'] ?? '').toLowerCase().replace(/\s/g, '');
      if (type !== 'application/json' && type !== 'application/json;charset=utf-8') {
        res.writeHead(415, { 'accept-post': 'application/grpc, application/grpc+json, application/json, application/proto' });
        return void res.end();
      }
      let body: Record<string, unknown>;
      let decoded: DecodedRequest;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        decoded = decodeBuildRequest(body, generation);
      } catch (err) {
        const why = err instanceof DecodeError ? err.message : 'proto: syntax error';
        return connectError(res, { code: 'invalid_argument', message: `unmarshal into *requestV1.BuildRequest: ${why}` });
      }
      const found = violations(decoded, generation);
      if (found.length > 0) {
        const message = validationMessage(found);
        state.invalid.push({ body, message });
        return connectError(res, { code: 'invalid_argument', message });
      }
      const call: CallRecord = { at: Date.now(), headers: req.headers, body, decoded };
      state.calls.push(call);
      void build(req, res, body, call).catch((err: unknown) => connectError(res, { code: 'internal', message: String(err) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
