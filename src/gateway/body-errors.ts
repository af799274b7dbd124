import { BadRequestError, ClientClosedRequestError, PayloadTooLargeError, VelocityError } from '../errors.js';

/** What raw-body, inflation and zlib put on the errors they throw. */
interface BodyReadError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
}

/** Request timed out while its body was still arriving (set by slow-clients.ts when it cuts one). */
export class RequestTimeoutError extends VelocityError {
  constructor(message: string) {
    super(message, { status: 408, code: 'request_timeout', headers: { Connection: 'close' } });
  }
}

/**
 * Sorts what reading a request body can throw into our errors, so none of it becomes a 500: every
 * one of these is the client's doing. A body that says it is compressed and is not (zlib and
 * brotli errors carry no status) is a 400; an encoding we cannot decode a 415. Anything else is
 * returned unchanged for the error boundary (a 500 there means a bug of ours, e.g. a body read twice).
 */
export function bodyReadError(err: unknown, contentEncoding: string | undefined, timedOut: boolean): unknown {
  const e = (err ?? {}) as BodyReadError;
  if (e.type === 'request.aborted') {
    return timedOut ? new RequestTimeoutError('request body not received in time') : new ClientClosedRequestError();
  }
  if (e.type === 'entity.too.large') return new PayloadTooLargeError('request body is larger than this route accepts');
  if (e.type === 'request.size.invalid') return new BadRequestError('request body does not match its Content-Length', 'invalid_body');
  if (e.type === 'encoding.unsupported') return unsupported('request body charset is not supported; JSON must be UTF-8');
  // inflation: an encoding other than gzip, deflate, br or identity.
  if (e.status === 415) return unsupported(`Content-Encoding ${JSON.stringify(contentEncoding ?? '')} is not supported (use gzip, deflate or br)`);
  if (typeof e.code === 'string' && (e.code.startsWith('Z_') || e.code.startsWith('ERR_BROTLI') || e.code.startsWith('ERR__ERROR'))) {
    return new BadRequestError(
      `request body is not valid ${contentEncoding ?? 'compressed'} data as its Content-Encoding says: ${String(e.message)}`,
      'invalid_encoding',
    );
  }
  return err;
}

function unsupported(message: string): VelocityError {
  return new VelocityError(message, { status: 415, code: 'unsupported_encoding' });
}
