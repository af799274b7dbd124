import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.js';

/** What middleware puts on `ctx.state` for the routes. */
export interface GatewayState {
  requestId: string;
  log: Logger;
  principal?: Principal;
  /** Aborted when the client goes away, so store calls stop with it. */
  signal: AbortSignal;
}
