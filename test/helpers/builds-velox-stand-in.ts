import { createHash, randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A stand-in for a Velox server. A real one needs Go and the internet to build RoadRunner, which
 * the test suite cannot count on, so this speaks Velox's exact wire format instead: Connect
 * protocol, unary, JSON. `POST /api.service.v1.BuildService/Build` with the BuildRequest JSON;
 * success is 200 `{"path","logs"}` where `path` is a file on a volume shared with the worker (here
 * a temp directory); errors are the Connect code's HTTP status with `{"code","message"}`.
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

export interface StandInOptions {
  /** Shared "volume" the binaries are written to. */
  readonly outDir: string;
  /** How long one build takes (ms). */
  delayMs?: number;
  /** Answers for the next calls, in order, before builds succeed again. */
  failures?: ConnectFailure[];
  /** Size of the binaries it makes (bytes). */
  readonly binarySize?: number;
}

export interface CallRecord {
  readonly at: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

export interface VeloxStandIn {
  readonly url: string;
  readonly options: StandInOptions;
  /** Every Build call, in order. */
  readonly calls: CallRecord[];
  /** Builds that completed successfully. */
  builds: number;
  /** Builds running right now, and the most that ever ran at once. */
  running: number;
  maxRunning: number;
  close(): Promise<void>;
}

/** What the stand-in builds for a request: deterministic bytes derived from the request. */
export function standInBinary(body: Record<string, unknown>, size: number): Buffer {
  const { request_id: _id, force_rebuild: _force, ...what } = body;
  const seed = createHash('sha256').update(JSON.stringify(what)).digest();
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i);
  return out;
}

export async function startVeloxStandIn(options: StandInOptions): Promise<VeloxStandIn> {
  await mkdir(options.outDir, { recursive: true });
  const state: VeloxStandIn = {
    url: '',
    options,
    calls: [],
    builds: 0,
    running: 0,
    maxRunning: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || req.url !== '/api.service.v1.BuildService/Build') {
          return answer(res, 404, { code: 'unimplemented', message: `no such procedure ${req.url ?? ''}` });
        }
        if (!String(req.headers['content-type']).startsWith('application/json')) {
          return answer(res, 415, { code: 'internal', message: 'content-type must be application/json' });
        }
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          return answer(res, 400, { code: 'invalid_argument', message: 'request body is not JSON' });
        }
        state.calls.push({ at: Date.now(), headers: req.headers, body });
        const failure = options.failures?.shift();
        if (failure) return answer(res, CONNECT_STATUS[failure.code] ?? 500, failure);
        state.running++;
        state.maxRunning = Math.max(state.maxRunning, state.running);
        try {
          await new Promise((r) => setTimeout(r, options.delayMs ?? 0));
          const dir = join(options.outDir, randomUUID());
          await mkdir(dir);
          const path = join(dir, 'rr');
          await writeFile(path, standInBinary(body, options.binarySize ?? 64 * 1024));
          state.builds++;
          answer(res, 200, { path, logs: `velox: building ${String(body.rr_version)}\nvelox: done\n` });
        } finally {
          state.running--;
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
