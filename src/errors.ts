/**
 * One error hierarchy for the whole package. `status` and `expose` follow Koa's contract, so
 * `ctx.onerror` stays a correct fallback; `code` is the stable, documented machine name.
 */
export class VelocityError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;
  private readonly publicMessage: string | undefined;

  constructor(
    message: string,
    opts: {
      status: number;
      code: string;
      expose?: boolean;
      headers?: Record<string, string>;
      cause?: unknown;
      /** What clients are told instead of `message`, which goes to the logs only. */
      publicMessage?: string;
    },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = opts.status;
    this.code = opts.code;
    this.expose = opts.expose ?? opts.status < 500;
    this.headers = opts.headers ?? {};
    this.publicMessage = opts.publicMessage;
  }

  /**
   * The message a client may see. Errors about a backend name its address, bucket or object keys
   * in `message` for the operator; the client gets a sentence without them.
   */
  get clientMessage(): string {
    return this.publicMessage ?? (this.expose ? this.message : 'internal error');
  }
}

export class BadRequestError extends VelocityError {
  constructor(message: string, code = 'bad_request') {
    super(message, { status: 400, code });
  }
}

export class UnauthorizedError extends VelocityError {
  constructor(message = 'missing or invalid bearer token') {
    super(message, { status: 401, code: 'unauthorized', headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class ForbiddenError extends VelocityError {
  constructor(message: string) {
    super(message, { status: 403, code: 'forbidden' });
  }
}

export class NotFoundError extends VelocityError {
  constructor(message: string, code = 'not_found') {
    super(message, { status: 404, code });
  }
}

export class PayloadTooLargeError extends VelocityError {
  constructor(message: string) {
    super(message, { status: 413, code: 'payload_too_large' });
  }
}

/**
 * The client went away before its answer was ready. Nobody reads the answer; the status (nginx's
 * 499) only keeps it apart from real failures in the logs and the request metrics.
 */
export class ClientClosedRequestError extends VelocityError {
  constructor() {
    super('client closed the request', { status: 499, code: 'client_closed_request' });
  }
}

/** The store (or another backend) cannot answer now: a 503, never a cache miss. */
export class ServiceUnavailableError extends VelocityError {
  constructor(message: string, opts: { retryAfterSeconds?: number; code?: string; cause?: unknown; publicMessage?: string } = {}) {
    super(message, {
      status: 503,
      code: opts.code ?? 'unavailable',
      expose: true,
      headers: { 'Retry-After': String(opts.retryAfterSeconds ?? 5) },
      cause: opts.cause,
      ...(opts.publicMessage === undefined ? {} : { publicMessage: opts.publicMessage }),
    });
  }
}

/** Invalid configuration: start-up stops and lists every problem. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
