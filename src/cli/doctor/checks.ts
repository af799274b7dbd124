import { createHash, randomBytes } from 'node:crypto';
import type { RemoteClient } from '../remote/client.js';
import { negotiateAnswerSchema, type Capabilities, type NegotiateAnswer } from '../remote/protocol.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about it, for failed checks. */
  fix?: string;
}

/** Presigned URLs are signed with the client-visible clock of the gateway; past this, they break. */
export const MAX_SKEW_SECONDS = 60;

async function body(res: Response): Promise<string> {
  try {
    const b = (await res.json()) as { code?: string; message?: string };
    return [b.code, b.message].filter(Boolean).join(': ');
  } catch {
    return '';
  }
}

/** A negotiation answer, or null when it is not one (not JSON, or not of the documented shape). */
async function answerOf(res: Response): Promise<NegotiateAnswer | null> {
  const parsed = negotiateAnswerSchema.safeParse(await res.json().catch(() => null));
  return parsed.success ? parsed.data : null;
}

const INVALID = 'an answer that is not a negotiation answer';

function failedNegotiation(status: number, detail: string, scope: 'cache:read' | 'cache:write'): Pick<CheckResult, 'detail' | 'fix'> {
  if (status === 401) return { detail: `token rejected (HTTP 401${detail ? `: ${detail}` : ''})`, fix: 'set remote.token (or the variable it names) to a token this gateway accepts' };
  if (status === 403) return { detail: `token lacks ${scope} (HTTP 403${detail ? `: ${detail}` : ''})`, fix: `issue a token with the ${scope} scope for this namespace` };
  if (status === 503) return { detail: `store unavailable (HTTP 503${detail ? `: ${detail}` : ''})`, fix: 'the gateway cannot reach its object store: check the store and the gateway logs' };
  return { detail: `HTTP ${status}${detail ? `: ${detail}` : ''}` };
}

/**
 * Checks one endpoint the way a new user needs, in order, stopping where later checks would only
 * repeat the same failure: reachable, store ready, clock, token + read, write, and a real round
 * trip (probe upload, then download and verify).
 */
export async function checkEndpoint(client: RemoteClient, namespace: string, now: () => number, fetchFn: typeof fetch): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (r: CheckResult): boolean => {
    results.push(r);
    return r.ok;
  };
  const t0 = now();
  let health: Response;
  try {
    health = await client.raw('/healthz', { method: 'GET', auth: false });
  } catch (err) {
    add({ name: 'reachable', ok: false, detail: (err as Error).message, fix: 'check remote.url, DNS, proxies and firewalls between here and the gateway' });
    return results;
  }
  if (!add({ name: 'reachable', ok: health.ok, detail: `${client.url} answered HTTP ${health.status} in ${now() - t0} ms`, fix: 'remote.url must point at a velocity gateway (its /healthz answers 200)' })) return results;

  const date = health.headers.get('date');
  if (date) {
    const skew = Math.round((now() - Date.parse(date)) / 1000);
    add({
      name: 'clock',
      ok: Math.abs(skew) <= MAX_SKEW_SECONDS,
      detail: skew === 0 ? 'in step with the gateway' : `this machine is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} the gateway`,
      fix: 'presigned URLs expire or are not yet valid with this much skew: sync the clock (NTP) here or on the gateway',
    });
  }

  const ready = await client.raw('/readyz', { method: 'GET', auth: false });
  add({ name: 'store ready', ok: ready.ok, detail: ready.ok ? 'the gateway reaches its object store' : `HTTP ${ready.status}`, fix: 'the gateway cannot reach its object store: check the store and the gateway logs' });

  let caps: Capabilities;
  try {
    caps = await client.capabilities();
    add({ name: 'capabilities', ok: true, detail: `driver ${caps.driver}, integrity ${caps.integrity}, conditional writes ${caps.conditional_writes ? 'on' : 'off'}` });
  } catch (err) {
    add({ name: 'capabilities', ok: false, detail: (err as Error).message, fix: 'the gateway is older or not a velocity gateway: GET /v1/capabilities must answer' });
    return results;
  }

  const probe = randomBytes(64);
  const probeHash = `doctor-probe-${createHash('sha256').update(probe).digest('hex').slice(0, 32)}`;
  const read = await client.raw('/v1/negotiate', { method: 'POST', body: { hash: probeHash, action: 'download', namespace } });
  const readAnswer = read.ok ? await answerOf(read) : null;
  if (!add({ name: 'token, read scope', ok: read.ok && readAnswer !== null, detail: read.ok ? `download negotiation answered ${readAnswer?.status ?? INVALID}` : '', ...(read.ok ? {} : failedNegotiation(read.status, await body(read), 'cache:read')) })) return results;

  const upload = {
    hash: probeHash,
    action: 'upload',
    namespace,
    size: probe.length,
    sha256: createHash('sha256').update(probe).digest('hex'),
    ...(caps.integrity === 'md5' ? { md5: createHash('md5').update(probe).digest('base64') } : {}),
  };
  const write = await client.raw('/v1/negotiate', { method: 'POST', body: upload });
  if (!write.ok) {
    add({ name: 'write scope', ok: false, ...failedNegotiation(write.status, await body(write), 'cache:write') });
    return results;
  }
  const writeAnswer = await answerOf(write);
  if (!add({ name: 'write scope', ok: writeAnswer?.status === 'upload_needed', detail: `upload negotiation answered ${writeAnswer?.status ?? INVALID}` })) return results;
  return [...results, ...(await roundTrip(client, fetchFn, writeAnswer, probe, probeHash, namespace))];
}

async function roundTrip(client: RemoteClient, fetchFn: typeof fetch, answer: NegotiateAnswer | null, probe: Buffer, hash: string, namespace: string): Promise<CheckResult[]> {
  if (answer?.status !== 'upload_needed' || !answer.url || !answer.headers) {
    return [{ name: 'round trip', ok: false, detail: 'upload negotiation returned no single-PUT URL for a 64-byte probe' }];
  }
  let res: Response;
  try {
    res = await fetchFn(answer.url, { method: 'PUT', headers: answer.headers, body: probe });
  } catch (err) {
    return [{ name: 'round trip', ok: false, detail: `probe upload failed: ${(err as Error).message}`, fix: 'the presigned URL host must be reachable from here: check the store endpoint the gateway presigns for' }];
  }
  if (!res.ok) {
    return [{ name: 'round trip', ok: false, detail: `probe upload: HTTP ${res.status}`, fix: res.status === 403 ? 'the store refused the signature: check clock skew and the gateway\'s store credentials' : 'check the store and the gateway logs' }];
  }
  const down = await client.raw('/v1/negotiate', { method: 'POST', body: { hash, action: 'download', namespace } });
  const found = down.ok ? await answerOf(down) : null;
  if (found?.status !== 'found') {
    return [{ name: 'round trip', ok: false, detail: `the probe was uploaded but download negotiation answered ${found?.status ?? (down.ok ? INVALID : `HTTP ${down.status}`)}` }];
  }
  let bytes: Buffer;
  try {
    const get = await fetchFn(found.url);
    if (!get.ok) return [{ name: 'round trip', ok: false, detail: `probe download: HTTP ${get.status}` }];
    bytes = Buffer.from(await get.arrayBuffer());
  } catch (err) {
    return [{ name: 'round trip', ok: false, detail: `probe download failed: ${(err as Error).message}` }];
  }
  const ok = bytes.equals(probe) && createHash('sha256').update(bytes).digest('hex') === found.sha256;
  return [{ name: 'round trip', ok, detail: ok ? `uploaded and downloaded a ${probe.length}-byte probe (${hash}), digests match` : 'downloaded bytes differ from the probe', fix: 'the store returned different bytes: check the store' }];
}
