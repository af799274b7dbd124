import type { ParameterizedContext } from 'koa';
import type { GatewayState } from '../state.js';

/**
 * Reads and drops what is left of a request body the store refused, when that is at most
 * `limit` bytes, so the client reads the answer instead of failing to send the rest: Nx sends its
 * whole body before it looks at the status, and a connection closed under it is an error that
 * fails the task, where the 403 it would have read is not. Beyond `limit` (or when the client
 * leaves) the connection is closed after the answer, as for any unread body (request-context.ts).
 */
export async function discardBody(ctx: ParameterizedContext<GatewayState>, limit: number): Promise<void> {
  const req = ctx.req;
  if (req.complete || req.destroyed) return;
  const declared = ctx.request.length;
  if (declared === undefined || declared > limit) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      req.off('end', done);
      req.off('close', done);
      req.off('error', done);
      resolve();
    };
    req.on('end', done);
    req.on('close', done);
    req.on('error', done);
    req.resume();
  });
}
