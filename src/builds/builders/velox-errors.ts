/**
 * What a Velox error answer means for a retry, read from Velox's own sources
 * (roadrunner-server/velox master, internal/cli/server/server.go and github/github.go; the same
 * shapes in the released v2025.2-beta.2):
 *
 * - Velox sends `invalid_argument` only from its request validation (connectrpc.com/validate);
 *   `already_exists` ("build ... is already in progress") while an identical build runs there;
 *   every other failure is `internal`: "downloading template: ..." (GitHub) or
 *   "building plugins: ..." (go mod edit / tidy / list / build, with the last 8 KB of stderr).
 * - connect-go itself answers `deadline_exceeded`, `canceled`, `unavailable` (and a proxy in
 *   between answers a bare 5xx) for trouble outside the build.
 *
 * So `internal` is a failed build, permanent, unless its message shows a download or network
 * failure (then building again can succeed).
 */
export type VeloxCause =
  /** Retry with backoff: the server, the network or a proxy, not the request. */
  | 'transient'
  /** `already_exists`: an identical build runs on that Velox; wait for it. */
  | 'busy'
  /** Retry with backoff: `internal`, but a download or a network failure. */
  | 'download'
  /** Permanent: the build failed as such, or the request was refused. */
  | 'permanent';

/** Connect codes that say nothing about the request: retried with backoff. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['unavailable', 'deadline_exceeded', 'resource_exhausted', 'aborted', 'canceled']);

/** Only this much of a message is searched (Velox adds up to 8 KB of stderr). */
const MAX_SCANNED_CHARS = 16 * 1024;

/**
 * Go's and the Go module proxy's words for a network failure, as they reach Velox's stderr tail
 * (`dial tcp ...: i/o timeout`, `reading https://proxy.golang.org/...: 502 Bad Gateway`), and
 * Velox's own deadline. Plain alternatives of literals: linear on any input. A missing module or
 * tag (`404 Not Found`, `unknown revision`) is deliberately absent: no retry can fix it.
 */
const NETWORK_FAILURE =
  /dial tcp|i\/o timeout|connection refused|connection reset|no such host|TLS handshake timeout|server misbehaving|network is unreachable|temporary failure in name resolution|context deadline exceeded|Client\.Timeout exceeded|\b(?:429 Too Many Requests|500 Internal Server Error|502 Bad Gateway|503 Service Unavailable|504 Gateway Timeout)\b/i;

/**
 * github.go's template download: `expected 3xx redirect from <url>, got <status>` and
 * `download <url> returned <status>`. 404 is a tag that does not exist (permanent); 403 and 429
 * are GitHub's rate limits and 5xx its outages (transient).
 */
const TEMPLATE_STATUS = /^downloading template: (?:expected 3xx redirect from \S+, got|download \S+ returned) (\d{3})\b/;

/** `downloading template: GET <url>: <error>` or `read archive body: ...`: the network failed. */
const TEMPLATE_NETWORK = /^downloading template: (?:GET \S+: |read archive body: )/;

export function causeOfInternal(message: string): VeloxCause {
  const text = message.slice(0, MAX_SCANNED_CHARS);
  const status = TEMPLATE_STATUS.exec(text)?.[1];
  if (status !== undefined) {
    const n = Number(status);
    return n === 403 || n === 429 || n >= 500 ? 'download' : 'permanent';
  }
  if (TEMPLATE_NETWORK.test(text)) return 'download';
  return NETWORK_FAILURE.test(text) ? 'download' : 'permanent';
}

/** The cause of a Connect error code and message from Velox. */
export function causeOf(code: string, message: string): VeloxCause {
  if (code === 'already_exists') return 'busy';
  if (TRANSIENT_CODES.has(code)) return 'transient';
  if (code === 'internal') return causeOfInternal(message);
  // invalid_argument (validation), unknown, unimplemented, permission_denied...: retrying the
  // same request gets the same answer.
  return 'permanent';
}

/** Connect's HTTP status -> code mapping, for answers without a Connect JSON body. */
export function codeFromStatus(status: number): string {
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

export interface VeloxErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** False when the body was not Connect JSON (a proxy's page, Go's plain-text 404, an empty 415). */
  readonly connectBody: boolean;
  readonly cause: VeloxCause;
}

/** Reads a non-200 answer. A 5xx without a Connect body is a proxy or a crash: transient. */
export function readErrorAnswer(status: number, text: string): VeloxErrorAnswer {
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') {
      const message = typeof parsed.message === 'string' ? parsed.message : '';
      return { status, code: parsed.code, message, connectBody: true, cause: causeOf(parsed.code, message) };
    }
  } catch {
    // Not Connect JSON: the HTTP status decides.
  }
  const code = codeFromStatus(status);
  const message = text.trim().slice(0, 2000);
  const cause: VeloxCause = status >= 500 || status === 429 ? 'transient' : status === 409 ? 'busy' : 'permanent';
  return { status, code, message, connectBody: false, cause };
}
