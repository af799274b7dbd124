// A second reference for bench/negotiate.mjs's download hit: the least a Koa app can do for the same
// request. One middleware reads the JSON body with co-body (as the gateway does) and answers a small
// JSON object: no router, no auth, no lookup. What the hit costs above this is the gateway's own
// work; what this costs above the bare node:http server is the framework's.
import { json } from 'co-body';
import Koa from 'koa';

const app = new Koa();
app.use(async (ctx) => {
  const body = await json(ctx.req, { limit: 16 * 1024 * 1024, strict: true });
  ctx.body = { status: 'missing', hash: body.hash };
});
const server = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1');
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
