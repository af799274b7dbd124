import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

export interface SlowClientRules {
  /** Longest a request (headers and body) may take to arrive, streamed uploads excepted. */
  readonly bodyTimeoutMs: number;
  /** Streamed uploads must bring at least `uploadMinBytesPerSecond` over every window this long. */
  readonly uploadRateWindowMs: number;
  readonly uploadMinBytesPerSecond: number;
  /** Requests whose bodies legitimately run long (the local driver's uploads): a rate rule, not a total. */
  readonly isStreamedUpload: (req: IncomingMessage) => boolean;
  readonly now?: () => number;
}

/** What the sweep knows of a request still arriving; made only once a sweep finds it incomplete. */
interface Arrival {
  readonly since: number;
  readonly streamed: boolean;
  windowStart: number;
  windowBytes: number;
}

const cutRequests = new WeakSet<IncomingMessage>();

/** True when the request's connection was closed by the slow-client rules (a 408, not a 499). */
export function wasCutForSlowness(req: IncomingMessage): boolean {
  return cutRequests.has(req);
}

const TIMEOUT_BODY = JSON.stringify({ code: 'request_timeout', message: 'request not received in time' });
// Written on the socket, as Node does for its own request timeout: the route is still waiting for
// the body, so the error middleware cannot answer, and the connection is closed right after.
const TIMEOUT_RESPONSE = Buffer.from(
  `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${TIMEOUT_BODY.length}\r\n\r\n${TIMEOUT_BODY}`,
);

/**
 * Bounds how long a client may take to send a request, per connection, without a timer per
 * request: every request is noted in a map keyed by its socket (a keep-alive socket reuses its
 * entry), and one sweep a fraction of the shortest limit apart looks only at requests whose body
 * is still arriving. Node's `headersTimeout`/`requestTimeout` cannot tell routes apart, and a
 * streamed upload of gigabytes must not get the deadline of a JSON body: it must only keep
 * moving (bytes over each window, read off the socket's counter). A request is cut between its
 * limit and one sweep period later.
 */
export class SlowClientGuard {
  private readonly current = new Map<Socket, ServerResponse>();
  private readonly arrivals = new WeakMap<IncomingMessage, Arrival>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly rules: SlowClientRules,
    private readonly logger: Logger,
  ) {
    this.now = rules.now ?? Date.now;
    const period = Math.min(1000, Math.max(50, Math.min(rules.bodyTimeoutMs, rules.uploadRateWindowMs) / 5));
    this.timer = setInterval(() => this.sweep(), period).unref();
  }

  /** Called for every request: one map write. */
  track(req: IncomingMessage, res: ServerResponse): void {
    this.current.set(req.socket, res);
  }

  stop(): void {
    clearInterval(this.timer);
    this.current.clear();
  }

  sweep(): void {
    const now = this.now();
    for (const [socket, res] of this.current) {
      if (socket.destroyed) {
        this.current.delete(socket);
        continue;
      }
      const req = res.req;
      if (req.complete) continue;
      const arrival = this.arrivals.get(req);
      if (!arrival) {
        const bytes = socket.bytesRead;
        this.arrivals.set(req, { since: now, streamed: this.rules.isStreamedUpload(req), windowStart: now, windowBytes: bytes });
      } else if (!arrival.streamed) {
        if (now - arrival.since >= this.rules.bodyTimeoutMs) this.cut(socket, res, 'request not received within the body timeout');
      } else if (now - arrival.windowStart >= this.rules.uploadRateWindowMs) {
        const rate = (socket.bytesRead - arrival.windowBytes) / ((now - arrival.windowStart) / 1000);
        if (rate < this.rules.uploadMinBytesPerSecond) this.cut(socket, res, `upload slower than the minimum rate (${Math.round(rate)} B/s)`);
        arrival.windowStart = now;
        arrival.windowBytes = socket.bytesRead;
      }
    }
  }

  private cut(socket: Socket, res: ServerResponse, reason: string): void {
    const req = res.req;
    cutRequests.add(req);
    this.current.delete(socket);
    // The path without its query: signed URL parameters never reach the logs.
    this.logger.warn({ reason, method: req.method, path: (req.url ?? '').split('?')[0] }, 'slow client cut off');
    if (!res.headersSent && socket.writable) socket.write(TIMEOUT_RESPONSE);
    socket.destroy();
  }
}
