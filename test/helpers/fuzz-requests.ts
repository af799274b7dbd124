import { deflateSync, gzipSync } from 'node:zlib';

/**
 * A seeded generator of malformed requests for the gateway's JSON and upload routes. Every request
 * is derived from a valid one (a field removed, retyped, blown up; the body re-encoded; the signed
 * URL tampered with), so the fuzzer reaches past the first parse error into the route's own rules.
 */

export interface FuzzRequest {
  readonly label: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

/** mulberry32: small, seeded, good enough to spread cases. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzContext {
  readonly token: string;
  /** JWTs with hostile claims, signed with the gateway's secret (some valid, most not). */
  readonly jwts: readonly string[];
  /** Paths (with query) of signed local upload URLs the gateway handed out. */
  readonly uploadUrls: readonly string[];
  /** Paths (with query) of signed local part URLs. */
  readonly partUrls: readonly string[];
  /** Paths (with query) of signed local download URLs. */
  readonly downloadUrls: readonly string[];
}

const SHA = 'a'.repeat(64);
const MD5 = 'AAAAAAAAAAAAAAAAAAAAAA==';

const VALID: Record<string, () => Record<string, unknown>> = {
  '/v1/negotiate': () => ({ hash: 'abc123', action: 'upload', namespace: 'default', size: 10, sha256: SHA, md5: MD5 }),
  '/v1/negotiate/batch': () => ({ items: [{ hash: 'abc', action: 'download' }, { hash: 'def', action: 'upload', size: 1, sha256: SHA, md5: MD5 }] }),
  '/v1/uploads/complete': () => ({ hash: 'abc', namespace: 'default', upload_id: 'A'.repeat(24), parts: [{ part_number: 1, etag: '"x"' }] }),
  '/v1/uploads/abort': () => ({ hash: 'abc', upload_id: 'A'.repeat(24) }),
  '/v1/builds': () => ({
    request_id: 'r1',
    rr_version: 'v2024.1.0',
    target_platform: { os: 'linux', arch: 'amd64' },
    plugins: [{ module_name: 'github.com/roadrunner-server/http/v5', tag: 'v5.0.0' }],
  }),
};

export function fuzzRequests(count: number, seed: number, ctx: FuzzContext): FuzzRequest[] {
  const rnd = seededRandom(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

  const weirdStrings = (): string =>
    pick([
      '',
      ' ',
      '../../etc/passwd',
      'a/b',
      '%2e%2e',
      '\u0000',
      '\n',
      'ä'.repeat(50),
      'x'.repeat(int(2) ? 300 : 100_000),
      'v1.'.repeat(30_000),
      '0'.repeat(5000) + '!',
      '*',
      'builds',
      'team_x',
      '"; drop',
      '\ud800',
    ]);
  const randomValue = (depth = 0): unknown => {
    switch (int(depth > 3 ? 7 : 10)) {
      case 0: return null;
      case 1: return pick([true, false]);
      case 2: return pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 5e12]);
      case 3: return weirdStrings();
      case 4: return pick(['abc', 'default', SHA, MD5, 'download', 'upload']);
      case 5: return [];
      case 6: return {};
      case 7: return Array.from({ length: int(5) }, () => randomValue(depth + 1));
      case 8: return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [pick(['hash', 'size', 'parts', `k${i}`, '__proto__', 'constructor']), randomValue(depth + 1)]));
      default: return Array.from({ length: 2000 }, () => 1);
    }
  };
  /** Deep nesting as text: building it as a value would overflow the fuzzer's own stack. */
  const nested = (levels: number): Buffer => {
    const open = int(2) ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    return Buffer.from(`${open.repeat(levels)}1${close.repeat(levels)}`);
  };
  const mutate = (obj: Record<string, unknown>): unknown => {
    const keys = Object.keys(obj);
    const key = pick(keys);
    switch (int(6)) {
      case 0: { const o = { ...obj }; delete o[key]; return o; }
      case 1: return { ...obj, [key]: randomValue() };
      case 2: return { ...obj, [`extra_${int(9)}`]: randomValue() };
      case 3: {
        // Reach into nested values (items, parts, plugins, target_platform).
        const inner = obj[key];
        if (Array.isArray(inner) && inner.length > 0 && typeof inner[0] === 'object') {
          return { ...obj, [key]: [mutate(inner[0] as Record<string, unknown>), ...inner.slice(1)] };
        }
        if (inner && typeof inner === 'object') return { ...obj, [key]: mutate(inner as Record<string, unknown>) };
        return { ...obj, [key]: randomValue() };
      }
      case 4: return randomValue();
      default: return obj;
    }
  };
  const rawBody = (): Buffer =>
    pick([
      () => Buffer.from('{"hash":'),
      () => Buffer.from('{"hash":"a","action":"download"'),
      () => Buffer.from('nul'),
      () => Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
      () => Buffer.alloc(int(3000), int(256)),
      () => Buffer.from('{"a":1}'.repeat(100)),
      () => Buffer.from(`{"hash":"${'\\u0000'.repeat(100)}"}`),
      () => Buffer.from('{"__proto__":{"admin":true},"hash":"a","action":"download"}'),
    ])();

  const authHeader = (): Record<string, string> => {
    switch (int(8)) {
      case 0: return {};
      case 1: return { authorization: 'Bearer ' };
      case 2: return { authorization: `Bearer ${weirdStrings().replace(/[^\x20-\x7e]/g, '?')}` };
      case 3: return { authorization: `Basic ${Buffer.from(`x:${ctx.token}`).toString('base64')}` };
      case 4: return { authorization: `Bearer ${pick(ctx.jwts)}` };
      case 5: return { authorization: `Bearer ${pick(ctx.jwts)}x` };
      default: return { authorization: `Bearer ${ctx.token}` };
    }
  };
  const encode = (body: Buffer): { headers: Record<string, string>; body: Buffer } => {
    const type = pick([
      'application/json', 'application/json', 'application/json', 'application/json; charset=utf-8',
      'application/json; charset=latin1', 'application/json; charset=nope', 'text/plain',
      'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '',
    ]);
    const headers: Record<string, string> = type ? { 'content-type': type } : {};
    switch (int(10)) {
      case 0: return { headers: { ...headers, 'content-encoding': pick(['gzip', 'deflate', 'br', 'compress', 'gzip, gzip', 'x-unknown', 'identity']) }, body };
      case 1: return { headers: { ...headers, 'content-encoding': 'gzip' }, body: gzipSync(body) };
      case 2: return { headers: { ...headers, 'content-encoding': 'deflate' }, body: deflateSync(body) };
      case 3: return { headers: { ...headers, 'content-encoding': 'gzip' }, body: gzipSync(body).subarray(0, 12) };
      case 4: return { headers: { ...headers, 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(4 << 20, 32)) };
      default: return { headers, body };
    }
  };

  const jsonRequest = (): FuzzRequest => {
    const path = pick(Object.keys(VALID));
    const valid = (VALID[path] as () => Record<string, unknown>)();
    const shape = int(12);
    const body = shape === 0 ? rawBody() : shape === 1 ? nested(int(2) ? 50 : 20_000) : Buffer.from(JSON.stringify(mutate(valid)) ?? 'null');
    const enc = encode(body);
    return { label: `POST ${path}`, method: 'POST', path, headers: { ...authHeader(), ...enc.headers }, body: enc.body };
  };

  const tamper = (pathWithQuery: string): string => {
    const [path = '', query = ''] = pathWithQuery.split('?');
    const params = [...new URLSearchParams(query)];
    switch (int(9)) {
      case 0: return `${path}?${params.filter((_, i) => i !== int(params.length)).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
      case 1: return `${pathWithQuery}&size=1`;
      case 2: return `${pathWithQuery.replace(/sha256=([0-9a-f]+)/, 'sha256=$1%0Asize%3D10')}`;
      case 3: return `${path}x?${query}`;
      case 4: return pathWithQuery.replace(/\/(artifacts|builds)\//, `/${pick(['builds', 'uploads', '..', 'artifacts%2F..'])}/`);
      case 5: return pathWithQuery.replace(/exp=\d+/, `exp=${pick(['0', '99999999999999', '-1', '1e3', ''])}`);
      case 6: return pathWithQuery.replace(/sig=[^&]+/, `sig=${pick(['', 'AAAA', '%00', 'x'.repeat(5000)])}`);
      case 7: return `${pathWithQuery}&${pick(['meta-x=1', 'md5=', 'exp=1', 'sig=x'])}`;
      default: return pathWithQuery;
    }
  };
  const uploadRequest = (): FuzzRequest => {
    const part = int(3) === 0 && ctx.partUrls.length > 0;
    const path = tamper(pick(part ? ctx.partUrls : ctx.uploadUrls));
    const size = pick([0, 1, 10, 1000, 70_000]);
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (int(3) === 0) headers['content-encoding'] = pick(['gzip', 'br']);
    if (int(4) === 0) headers['if-none-match'] = '*';
    if (int(4) === 0) headers['x-amz-checksum-sha256'] = pick(['', 'bad', Buffer.alloc(32).toString('base64')]);
    return { label: `PUT ${part ? 'part' : 'artifact'}`, method: 'PUT', path, headers, body: Buffer.alloc(size, int(256)) };
  };
  const downloadRequest = (): FuzzRequest => {
    const path = tamper(pick(ctx.downloadUrls));
    const range = pick(['', 'bytes=0-0', 'bytes=-5', 'bytes=5-', 'bytes=10-1', 'bytes=0-1,2-3', 'bytes=99999999999999999999-', 'items=0-1', 'bytes=-0']);
    return { label: 'GET download', method: pick(['GET', 'HEAD']), path, headers: range ? { range } : {} };
  };
  const otherRequest = (): FuzzRequest => {
    const id = pick(['x', 'b'.repeat(64), '..%2f..', '%00', 'a'.repeat(5000), '123']);
    const path = pick([
      `/v1/builds/${id}`, `/v1/builds/${id}/artifact`, `/v1/builds/${id}/events`, '/v1/capabilities',
      `/v1/local/artifacts/${id}/${id}`, `/v1/local/uploads/${id}/${id}/${id}/1`, `/v1/${id}`, '/healthz',
    ]);
    const method = path.endsWith('/events') ? 'DELETE' : pick(['GET', 'GET', 'DELETE', 'PUT', 'POST', 'PATCH', 'OPTIONS']);
    return { label: `${method} other`, method, path, headers: authHeader() };
  };

  return Array.from({ length: count }, () => {
    const r = rnd();
    if (r < 0.55) return jsonRequest();
    if (r < 0.75) return uploadRequest();
    if (r < 0.9) return downloadRequest();
    return otherRequest();
  });
}
