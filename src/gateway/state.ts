import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.js';
import { ClientClosedRequestError } from '../errors.js';

/** What middleware puts on `ctx.state` for the routes. */
export interface GatewayState {
  readonly requestId: string;
  /** A child logger carrying the request id. */
  readonly log: Logger;
  principal?: Principal;
  /** Aborted when the client goes away, so store calls stop with it. */
  readonly signal: AbortSignal;
  /** Set by whoever logged this request's failure, so the access log does not log it twice. */
  logged?: boolean;
}

/**
 * The per-request state. The logger and the signal are made on first use, through getters on the
 * prototype: a cache hit needs neither, and building both for every request costs more than the
 * rest of the hit path.
 */
export class RequestState implements GatewayState {
  principal?: Principal;
  logged?: boolean;
  private childLog: Logger | undefined;
  private controller: AbortController | undefined;

  constructor(
    readonly requestId: string,
    private readonly logger: Logger,
    private readonly res: ServerResponse,
  ) {}

  get log(): Logger {
    return (this.childLog ??= this.logger.child({ reqId: this.requestId }));
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = (this.controller = new AbortController());
      const res = this.res;
      // The response closing before it finished means the client went away (the request's own
      // 'close' fires as soon as its body has been read, so it says nothing about the client).
      res.once('close', () => {
        if (!res.writableFinished) controller.abort(new ClientClosedRequestError());
      });
    }
    return this.controller.signal;
  }

  /** Set once the client has gone away (only ever when something asked for the signal). */
  get clientGone(): ClientClosedRequestError | undefined {
    const signal = this.controller?.signal;
    return signal?.aborted ? (signal.reason as ClientClosedRequestError) : undefined;
  }
}
