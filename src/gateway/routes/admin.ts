import { Router } from '@koa/router';
import type Koa from 'koa';
import { requireScope } from '../../auth/principal.js';
import { BadRequestError, UnauthorizedError } from '../../errors.js';
import type { Lifecycle } from '../../lifecycle/create-lifecycle.js';
import { ArtifactNotFoundError } from '../../storage/errors.js';
import { artifactRef, describeRef } from '../../storage/object-keys.js';
import type { GatewayState } from '../state.js';

/**
 * The store lifecycle's admin API (scope `admin`):
 *   POST   /v1/admin/gc[?dry_run=1]                   one eviction and sweeping pass now
 *   GET    /v1/admin/stats                            bytes and artifacts per namespace
 *   DELETE /v1/admin/artifacts/{namespace}/{hash}     purges one key (`?space=` any key space of KEY_SPACES:
 *                                                     `builds` for a binary, `turbo`, `nx`, `bazel-ac`,
 *                                                     `bazel-cas`, `http` for a client protocol's artifact)
 */
export function adminRouter(lifecycle: Lifecycle, auth: Koa.Middleware<GatewayState>): Router<GatewayState> {
  const router = new Router<GatewayState>({ prefix: '/v1/admin' });
  const admin: Koa.Middleware<GatewayState> = async (ctx, next) => {
    if (!ctx.state.principal) throw new UnauthorizedError('a token is required');
    requireScope(ctx.state.principal, 'admin');
    await next();
  };
  router.post('/gc', auth, admin, async (ctx) => {
    const dryRun = flagParam(ctx.query.dry_run, 'dry_run');
    ctx.body = await lifecycle.gc({ dryRun, signal: ctx.state.signal });
  });
  router.get('/stats', auth, admin, async (ctx) => {
    const usage = await lifecycle.usage(ctx.state.signal);
    ctx.body = {
      bytes: usage.reduce((s, u) => s + u.bytes, 0),
      objects: usage.reduce((s, u) => s + u.objects, 0),
      namespaces: usage.map((u) => ({ space: u.space, namespace: u.namespace, bytes: u.bytes, objects: u.objects })),
    };
  });
  router.delete('/artifacts/:namespace/:hash', auth, admin, async (ctx) => {
    const space = typeof ctx.query.space === 'string' ? ctx.query.space : 'artifacts';
    const ref = artifactRef(ctx.params.namespace, ctx.params.hash ?? '', space);
    if (!(await lifecycle.purge(ref, ctx.state.signal))) throw new ArtifactNotFoundError(describeRef(ref));
    ctx.body = { status: 'purged', space, namespace: ref.namespace, hash: ref.hash };
  });
  return router;
}

function flagParam(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new BadRequestError(`${name} must be 1, 0, true or false`);
}
