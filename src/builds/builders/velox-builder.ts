import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { Agent, request } from 'undici';
import { BuildFailure } from '../build-failure.js';
import { toVeloxRequest } from '../canonical-request.js';
import { splitLines, type BuildInput, type BuildOutput, type Builder } from './builder.js';

export const VELOX_BUILD_PATH = '/api.service.v1.BuildService/Build';

/**
 * Connect error codes that no retry can fix. Everything else (5xx codes, `unavailable`,
 * `resource_exhausted`, `aborted`, and `already_exists`, which Velox answers while an identical
 * build is in progress) is transient.
 */
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'invalid_argument',
  'failed_precondition',
  'out_of_range',
  'not_found',
  'permission_denied',
  'unauthenticated',
  'unimplemented',
]);

/** Connect's HTTP status -> code mapping, for answers without a Connect JSON body (a proxy's 502). */
function codeFromStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_argument';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'permission_denied';
    case 404:
      return 'unimplemented';
    case 409:
      return 'already_exists';
    case 429:
    case 502:
    case 503:
    case 504:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'unknown';
  }
}

export interface VeloxBuilderOptions {
  /** Base URL of the Velox server. */
  readonly url: string;
}

/**
 * Velox's BuildService over the Connect protocol with JSON: one unary POST, `{"path","logs"}` on
 * success, `{"code","message"}` with the code's HTTP status on error. `path` is a file on a volume
 * this worker shares with the Velox server.
 */
export function createVeloxBuilder(opts: VeloxBuilderOptions): Builder {
  const endpoint = new URL(VELOX_BUILD_PATH.slice(1), opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
  // One connection pool per build slot; recycling a slot closes it and starts afresh.
  const agent = new Agent({ keepAliveTimeout: 10_000 });

  async function build(input: BuildInput): Promise<BuildOutput> {
    const body = JSON.stringify(toVeloxRequest(input.canonical, { requestId: input.requestId, forceRebuild: input.forceRebuild }));
    let res;
    try {
      res = await request(endpoint, {
        method: 'POST',
        dispatcher: agent,
        signal: input.signal,
        headers: {
          'content-type': 'application/json',
          'connect-protocol-version': '1',
          'connect-timeout-ms': String(Math.max(1, Math.floor(input.timeoutMs))),
        },
        body,
        // A build answers only when it is done: undici's own 300 s defaults must not cut it short.
        headersTimeout: input.timeoutMs + 5000,
        bodyTimeout: input.timeoutMs + 5000,
      });
    } catch (err) {
      if (input.signal.aborted) throw err;
      throw new BuildFailure(`Velox at ${endpoint.origin} unreachable: ${(err as Error).message}`, {
        code: 'builder_unavailable',
        retryable: true,
        cause: err,
      });
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      const failure = veloxError(res.statusCode, text);
      // Velox users ask for visible build errors: the message goes to the build's output too.
      input.onLog(failure.logsTail);
      throw failure;
    }
    let answer: { path?: unknown; logs?: unknown };
    try {
      answer = JSON.parse(text) as { path?: unknown; logs?: unknown };
    } catch {
      throw new BuildFailure('Velox answered 200 with a body that is not JSON', { code: 'builder_unavailable', retryable: true });
    }
    if (typeof answer.logs === 'string' && answer.logs !== '') input.onLog(splitLines(answer.logs));
    if (typeof answer.path !== 'string' || !isAbsolute(answer.path)) {
      throw new BuildFailure('Velox answered without an absolute `path`', { code: 'build_failed', retryable: false });
    }
    const path = answer.path;
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) {
      throw new BuildFailure(
        `Velox built ${path}, which this worker cannot read: the worker must share that volume with the Velox server`,
        { code: 'build_failed', retryable: false },
      );
    }
    // The file belongs to Velox's own cache: it is read, never removed.
    return { path, dispose: () => Promise.resolve() };
  }

  return { kind: 'velox', build, close: () => agent.close() };
}

function veloxError(status: number, text: string): BuildFailure {
  let code = codeFromStatus(status);
  let message = text.trim().slice(0, 2000);
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // Not Connect JSON (a proxy in between?): the HTTP status decides.
  }
  const retryable = !PERMANENT_CODES.has(code);
  const lines = splitLines(message);
  return new BuildFailure(`Velox: ${code}: ${lines[0] ?? `HTTP ${status}`}`, {
    code: retryable ? 'builder_unavailable' : 'builder_rejected',
    retryable,
    logsTail: lines.slice(-50),
  });
}
