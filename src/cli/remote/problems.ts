import { VelocityError } from '../../errors.js';
import { RemoteUnavailableError } from '../errors.js';
import type { HttpAnswer } from './http-send.js';

/** Every way an exchange with the gateway or the store fails, sorted into "remote unavailable". */

const HINTS: Record<number, string> = {
  401: 'the token was not accepted: check remote.token in velocity.yml (and the variable it names)',
  403: 'the token lacks a scope or namespace: it needs cache:read to download and cache:write to upload',
};

/** Sorts a failed HTTP exchange into the one error the run understands: "remote unavailable". */
function problem(what: string, status: number, bodyText: string | null): RemoteUnavailableError {
  let detail = '';
  try {
    const body = JSON.parse(bodyText ?? '') as { code?: string; message?: string };
    detail = [body.code, body.message].filter(Boolean).join(': ');
  } catch {
    // Not JSON (e.g. an S3 XML error or a proxy page): the status says enough.
  }
  const hint = HINTS[status] ?? (status >= 500 ? 'the gateway or its store is failing; try again later' : undefined);
  return new RemoteUnavailableError(`${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`, {
    status,
    ...(hint ? { hint } : {}),
  });
}

export async function httpProblem(what: string, res: Response): Promise<RemoteUnavailableError> {
  return problem(what, res.status, await res.text().catch(() => null));
}

/** Answers of the gateway's API are small JSON documents; anything past this is not one. */
const MAX_JSON = 64 * 1024 * 1024;

export async function readText(answer: HttpAnswer): Promise<string> {
  const bytes = await answer.readAll(MAX_JSON, () => undefined);
  if (!bytes) throw new RemoteUnavailableError(`the answer is larger than ${MAX_JSON} bytes`);
  return bytes.toString('utf8');
}

export async function answerProblem(what: string, answer: HttpAnswer): Promise<RemoteUnavailableError> {
  return problem(what, answer.status, await readText(answer).catch(() => null));
}

/**
 * A presigned download answered 404: the artifact was evicted or purged after the gateway said
 * `found` (its L1 may trust a key for VC_KNOWN_KEYS_TTL). That is a miss, not a broken remote:
 * the task runs and the remote stays enabled.
 */
export class ArtifactGoneError extends VelocityError {
  constructor() {
    super('the artifact was deleted from the store after it was found', { status: 404, code: 'artifact_gone', expose: true });
  }
}

export const ok = (status: number): boolean => status >= 200 && status < 300;

export const NOT_A_GATEWAY = 'the gateway answered something this CLI cannot use: check that remote.url points at a velocity gateway of a matching version';

/**
 * A request that got no answer. `presigned` is the store URL handed out by the gateway, when that
 * is what failed: its host is not remote.url's, and saying "check remote.url" would send the user
 * the wrong way (a compose setup handing out `localhost:9000` to a CI machine elsewhere, say).
 * Only the origin is named: the query string is a credential.
 */
export function networkProblem(what: string, err: unknown, presigned?: { url: string; gateway: string }): RemoteUnavailableError {
  const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
  // fetch wraps the socket error in `cause`; node:http throws it as is.
  const reason = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.code ?? e.message);
  const store = presigned ? originOf(presigned.url) : undefined;
  if (store && store !== originOf(presigned?.gateway ?? '')) {
    return new RemoteUnavailableError(`${what} from the object store at ${store}: ${reason}`, {
      hint: `the gateway hands out URLs naming ${store}, which this machine cannot reach: set VC_S3_PUBLIC_ENDPOINT on the gateway to the store's address as CI reaches it`,
      cause: err,
    });
  }
  return new RemoteUnavailableError(`${what}: ${reason}`, { hint: 'check remote.url and that the gateway is reachable from here', cause: err });
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
