import type { Middleware } from 'koa';
import { requireNamespace, requireScope, type Principal } from '../../auth/principal.js';
import type { TokenVerifier } from '../../auth/token-verifier.js';
import { BadRequestError, UnauthorizedError, VelocityError } from '../../errors.js';
import { DEFAULT_NAMESPACE, NAMESPACE_PATTERN } from '../../storage/object-keys.js';
import type { GatewayState } from '../state.js';

/**
 * Build tools authenticate in two ways: a bearer token (Turborepo, Nx, Bazel's `--remote_header`,
 * ccache's `bearer-token`) or HTTP Basic (Gradle's `credentials`, ccache's `user:password@`), whose
 * password is the token and whose user name means nothing. A 401 offers both challenges, Basic
 * first: a client that only answers a challenge (Gradle without preemptive auth) needs one it knows.
 */
const CHALLENGE = 'Basic realm="velocity", Bearer realm="velocity"';

export class ProtocolUnauthorizedError extends VelocityError {
  constructor(message: string) {
    super(message, { status: 401, code: 'unauthorized', headers: { 'WWW-Authenticate': CHALLENGE } });
  }
}

/** Koa middleware: Bearer token, or Basic auth whose password is the token; 401 with WWW-Authenticate otherwise. Sets ctx.state.principal. */
export function protocolAuth(verifier: TokenVerifier): Middleware<GatewayState> {
  return async (ctx, next) => {
    const bearer = asBearer(ctx.get('authorization'));
    try {
      ctx.state.principal = await verifier.verify(bearer);
    } catch (err) {
      // The verifier's own 401 offers Bearer only; say what these routes accept.
      if (err instanceof UnauthorizedError) throw new ProtocolUnauthorizedError(err.message);
      throw err;
    }
    await next();
  };
}

/** The header the verifier understands: Bearer as given, Basic's password as a bearer token. */
function asBearer(header: string): string {
  if (header === '') throw new ProtocolUnauthorizedError('missing Authorization (Bearer <token>, or Basic with the token as password)');
  const basic = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return header;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  if (password === '' || /\s/.test(password)) throw new ProtocolUnauthorizedError('Basic auth needs the token as its password');
  return `Bearer ${password}`;
}

/**
 * The namespace a request acts in: the URL's (`/ns/{namespace}/...`, or a Turborepo team) when
 * given, else the token's only namespace, else `default`; checked against the namespace pattern,
 * the token's namespaces and the scope for the mode (cache:read / cache:write).
 */
export function protocolNamespace(principal: Principal, fromUrl: string | undefined, mode: 'read' | 'write'): string {
  const namespace = fromUrl ?? onlyNamespace(principal) ?? DEFAULT_NAMESPACE;
  if (!NAMESPACE_PATTERN.test(namespace)) throw new BadRequestError(`namespace must match ${NAMESPACE_PATTERN.source}`, 'invalid_namespace');
  requireScope(principal, mode === 'read' ? 'cache:read' : 'cache:write');
  requireNamespace(principal, namespace);
  return namespace;
}

function onlyNamespace(p: Principal): string | undefined {
  if (p.namespaces === '*' || p.namespaces.size !== 1) return undefined;
  const [only] = p.namespaces;
  return only;
}
