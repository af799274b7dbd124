import type { IncomingMessage } from 'node:http';
import type { Router } from '@koa/router';
import type { GatewayState } from '../state.js';
import { bazelRouter, type BazelOptions } from './bazel.js';
import { httpCacheRouter } from './http-cache.js';
import { nxRouter } from './nx.js';
import type { ProtocolDeps } from './protocol-deps.js';
import { turboRouter } from './turbo.js';

/** The routers of the build tools' own cache protocols, each in its own key space. */
export function protocolRouters(deps: ProtocolDeps, opts: { readonly bazel?: BazelOptions | undefined } = {}): Router<GatewayState>[] {
  return [turboRouter(deps), nxRouter(deps), bazelRouter(deps, opts.bazel), httpCacheRouter(deps)];
}

/**
 * Uploads of the client protocols (Turborepo, Nx, Bazel, plain HTTP; with or without a
 * `/ns/{namespace}` prefix): their bodies are artifacts of any size, so the slow-client rules hold
 * them to a minimum rate rather than a total time. A path that only looks like one gets the rate
 * rule too, and then whatever answer its route gives.
 */
const PROTOCOL_UPLOAD = /^(?:\/ns\/[^/?]+)?\/(?:v8\/artifacts\/|v1\/cache\/|bazel\/|http\/)/;

export function isProtocolUpload(req: IncomingMessage): boolean {
  return req.method === 'PUT' && req.url !== undefined && PROTOCOL_UPLOAD.test(req.url);
}
