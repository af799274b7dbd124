import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { BuildFailure, retryDelay, type RetryPolicy } from '../build-failure.js';
import { toVeloxRequest } from '../canonical-request.js';
import { splitLines, type BuildInput, type BuildOutput, type Builder } from './builder.js';
import { unsupportedFailure, unsupportedFields, VeloxCapabilityCheck } from './velox-capabilities.js';
import { readErrorAnswer, type VeloxErrorAnswer } from './velox-errors.js';

export const VELOX_BUILD_PATH = '/api.service.v1.BuildService/Build';

export interface VeloxBuilderOptions {
  /** Base URL of the Velox server. */
  readonly url: string;
  /** Shared by a worker's slots (see create-builder.ts); one of its own otherwise. */
  readonly capabilities?: VeloxCapabilityCheck;
  /**
   * Milliseconds to wait for an identical build another client runs on that Velox
   * (`already_exists`), polling with `busyPolicy`'s backoff. Default: the attempt's own time.
   */
  readonly busyWaitMs?: number;
  readonly busyPolicy?: RetryPolicy;
  /** Injected in tests. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const DEFAULT_BUSY_POLICY: RetryPolicy = { maxAttempts: 1, initialDelay: 1000, maxDelay: 30_000, backoffMultiplier: 2 };

export function veloxEndpoint(url: string): URL {
  return new URL(VELOX_BUILD_PATH.slice(1), url.endsWith('/') ? url : `${url}/`);
}

/**
 * Velox's BuildService over the Connect protocol with JSON: one unary POST, `{"path","logs"}` on
 * success (Velox v3 sends no logs for a fresh build, only "cached output..." for a cached one),
 * `{"code","message"}` with the code's HTTP status on error. `path` is a file on a volume this
 * worker shares with the Velox server. Retries by cause: see velox-errors.ts and docs/builds.md.
 */
export function createVeloxBuilder(opts: VeloxBuilderOptions): Builder {
  const endpoint = veloxEndpoint(opts.url);
  // One connection pool per build slot; recycling a slot closes it and starts afresh.
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  const capabilities = opts.capabilities ?? new VeloxCapabilityCheck({ endpoint });
  const sleep = opts.sleep ?? ((ms: number, signal: AbortSignal) => sleepFor(ms, undefined, { signal }));
  const busyPolicy = opts.busyPolicy ?? DEFAULT_BUSY_POLICY;

  async function call(input: BuildInput, timeoutMs: number): Promise<{ status: number; text: string }> {
    const body = JSON.stringify(toVeloxRequest(input.canonical, { requestId: input.requestId, forceRebuild: input.forceRebuild }));
    try {
      const res = await request(endpoint, {
        method: 'POST',
        dispatcher: agent,
        signal: input.signal,
        headers: {
          'content-type': 'application/json',
          'connect-protocol-version': '1',
          'connect-timeout-ms': String(Math.max(1, Math.floor(timeoutMs))),
        },
        body,
        // A build answers only when it is done: undici's own 300 s defaults must not cut it short.
        headersTimeout: timeoutMs + 5000,
        bodyTimeout: timeoutMs + 5000,
      });
      return { status: res.statusCode, text: await res.body.text() };
    } catch (err) {
      if (input.signal.aborted) throw err;
      // The server may come back as another version: probe again before the next build.
      capabilities.invalidate();
      throw new BuildFailure(`Velox at ${endpoint.origin} unreachable: ${(err as Error).message}`, {
        code: 'builder_unavailable',
        retryable: true,
        cause: err,
      });
    }
  }

  async function build(input: BuildInput): Promise<BuildOutput> {
    const started = Date.now();
    const caps = await capabilities.get(input.signal);
    const unsupported = unsupportedFields(input.canonical, caps);
    // Never sent: a released server would build without these fields, and the binary would be
    // stored under a key that claims them.
    if (unsupported.length > 0) throw unsupportedFailure(endpoint.origin, unsupported, caps);

    const budget = Math.min(opts.busyWaitMs ?? input.timeoutMs, input.timeoutMs);
    for (let poll = 1; ; poll++) {
      const left = input.timeoutMs - (Date.now() - started);
      const { status, text } = await call(input, Math.max(1, left));
      if (status === 200) return answered(input, text);
      const answer = readErrorAnswer(status, text);
      const delay = retryDelay(busyPolicy, poll);
      if (answer.cause === 'busy' && Date.now() - started + delay < budget) {
        // Another client builds the same thing there: its result is Velox's cache hit afterwards.
        input.onLog([`Velox: ${answer.message || 'an identical build is in progress'}; asking again in ${delay} ms`]);
        await sleep(delay, input.signal);
        continue;
      }
      const failure = veloxFailure(answer, budget);
      // Velox users ask for visible build errors: the message goes to the build's output too.
      input.onLog(failure.logsTail);
      throw failure;
    }
  }

  async function answered(input: BuildInput, text: string): Promise<BuildOutput> {
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

function veloxFailure(answer: VeloxErrorAnswer, busyBudgetMs: number): BuildFailure {
  const lines = splitLines(answer.message);
  const first = lines[0] ?? `HTTP ${answer.status}`;
  const logsTail = lines.slice(-50);
  switch (answer.cause) {
    case 'busy':
      return new BuildFailure(
        `Velox: already_exists: ${first} (still building after ${Math.round(busyBudgetMs / 1000)} s, VC_VELOX_BUSY_WAIT)`,
        { code: 'builder_busy', retryable: false, logsTail },
      );
    case 'transient':
    case 'download':
      return new BuildFailure(`Velox: ${answer.code}: ${first}`, { code: 'builder_unavailable', retryable: true, logsTail });
    case 'permanent':
      if (!answer.connectBody && answer.status === 404) {
        return new BuildFailure(`Velox: no BuildService at this URL (HTTP 404 ${first}): check VC_VELOX_URL`, {
          code: 'builder_rejected',
          retryable: false,
          logsTail,
        });
      }
      return new BuildFailure(`Velox: ${answer.code}: ${first}`, {
        code: answer.code === 'internal' ? 'build_failed' : 'builder_rejected',
        retryable: false,
        logsTail,
      });
  }
}
