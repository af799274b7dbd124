import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { actionResult, sha256Hex } from './bazel-proto-writer.js';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';
import { uniqueNamespace } from './stream-download-harness.js';

/** Bazel's HTTP cache protocol spoken by hand, where the real client cannot be made to misbehave. */
describe('Bazel HTTP cache protocol', () => {
  let gw: ClientGateway;

  beforeAll(async () => {
    gw = await startClientGateway({ config: { cache: { maxArtifactSize: 1024 * 1024 } } });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  const call = async (method: string, path: string, body?: Buffer, token: string | null = gw.token, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
      ...(body ? { body } : {}),
      redirect: 'manual',
      // A request that hangs fails here, naming itself, rather than as the test's timeout.
      signal: AbortSignal.timeout(20_000),
    }).catch((err: unknown) => {
      throw new Error(`${method} ${path}: ${String(err)}`);
    });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };

  it('stores a CAS blob under its digest, serves it streamed, and refuses a body that is not that digest', async () => {
    const ns = uniqueNamespace('bzp');
    const blob = randomBytes(50_000);
    const key = sha256Hex(blob);
    expect((await call('GET', `/ns/${ns}/bazel/cas/${key}`)).status).toBe(404);
    expect((await call('PUT', `/ns/${ns}/bazel/cas/${key}`, blob)).status).toBe(200);
    const hit = await call('GET', `/ns/${ns}/bazel/cas/${key}`);
    expect(hit.status).toBe(200);
    expect(hit.headers.get('location')).toBeNull();
    expect(hit.body.equals(blob)).toBe(true);

    // Other bytes under a key, or the right bytes cut short: 400, nothing stored.
    const other = randomBytes(50_000);
    const wrongKey = sha256Hex(randomBytes(8));
    const refused = await call('PUT', `/ns/${ns}/bazel/cas/${wrongKey}`, other);
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body.toString())).toMatchObject({ code: 'integrity_mismatch' });
    const empty = await call('PUT', `/ns/${ns}/bazel/cas/${wrongKey}`, Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect((await call('GET', `/ns/${ns}/bazel/cas/${wrongKey}`)).status).toBe(404);
    expect((await gw.stored('bazel-cas', ns)).map((a) => a.ref.hash)).toEqual([key]);
  });

  it('keeps the first bytes of a key: a second PUT is answered 200 and changes nothing', async () => {
    const ns = uniqueNamespace('bzp');
    const key = sha256Hex(randomBytes(8));
    const first = actionResult([]);
    const second = Buffer.concat([first, Buffer.from([0x20, 0x01])]); // exit_code = 1
    expect((await call('PUT', `/ns/${ns}/bazel/ac/${key}`, first)).status).toBe(200);
    expect((await call('PUT', `/ns/${ns}/bazel/ac/${key}`, second)).status).toBe(200);
    expect((await call('GET', `/ns/${ns}/bazel/ac/${key}`)).body.equals(first)).toBe(true);
  });

  it('stores an action result only when the CAS holds every blob it names', async () => {
    const ns = uniqueNamespace('bzp');
    const out = randomBytes(3000);
    const log = Buffer.from('compiling...\n');
    const result = actionResult([
      { path: 'bazel-out/k8-fastbuild/bin/out.bin', body: out },
      { path: 'bazel-out/k8-fastbuild/bin/log.txt', body: log },
      { path: 'bazel-out/k8-fastbuild/bin/empty', body: Buffer.alloc(0) },
    ]);
    const key = sha256Hex(randomBytes(8));
    expect((await call('PUT', `/ns/${ns}/bazel/cas/${sha256Hex(out)}`, out)).status).toBe(200);
    const early = await call('PUT', `/ns/${ns}/bazel/ac/${key}`, result);
    expect(early.status).toBe(400);
    expect(JSON.parse(early.body.toString())).toMatchObject({ code: 'missing_blobs' });
    expect(JSON.parse(early.body.toString()).message).toContain(sha256Hex(log));
    expect((await gw.stored('bazel-ac', ns)).map((a) => a.ref.hash)).toEqual([]);

    // The same blob in another namespace does not count.
    const elsewhere = uniqueNamespace('bzp');
    expect((await call('PUT', `/ns/${elsewhere}/bazel/cas/${sha256Hex(log)}`, log)).status).toBe(200);
    expect((await call('PUT', `/ns/${ns}/bazel/ac/${key}`, result)).status).toBe(400);

    // An empty blob is never uploaded by Bazel, and never required.
    expect((await call('PUT', `/ns/${ns}/bazel/cas/${sha256Hex(log)}`, log)).status).toBe(200);
    expect((await call('PUT', `/ns/${ns}/bazel/ac/${key}`, result)).status).toBe(200);
    expect((await call('GET', `/ns/${ns}/bazel/ac/${key}`)).body.equals(result)).toBe(true);

    const garbage = await call('PUT', `/ns/${ns}/bazel/ac/${sha256Hex(randomBytes(8))}`, Buffer.from([0x12, 0x7f, 0x00]));
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body.toString())).toMatchObject({ code: 'invalid_action_result' });
  });

  it('refuses bad paths, missing or read-only credentials, and bodies past the limit', async () => {
    const ns = uniqueNamespace('bzp');
    const blob = randomBytes(100);
    const key = sha256Hex(blob);
    expect((await call('GET', `/ns/${ns}/bazel/cas/${key.toUpperCase()}`)).status).toBe(400);
    expect((await call('GET', `/ns/${ns}/bazel/cas/${key.slice(1)}`)).status).toBe(400);
    expect((await call('GET', `/ns/${ns}/bazel/blobs/${key}`)).status).toBe(404);
    expect((await call('GET', `/ns/BAD_NS/bazel/cas/${key}`)).status).toBe(400);
    const anonymous = await call('PUT', `/ns/${ns}/bazel/cas/${key}`, blob, null);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/Bearer/);

    const readOnly = await gw.jwt(['cache:read']);
    expect((await call('PUT', `/ns/${ns}/bazel/cas/${key}`, blob, readOnly)).status).toBe(403);
    expect((await call('GET', `/ns/${ns}/bazel/cas/${key}`, undefined, readOnly)).status).toBe(404);
    const otherNs = await gw.jwt(['cache:read', 'cache:write'], ['team-a']);
    expect((await call('PUT', `/ns/${ns}/bazel/cas/${key}`, blob, otherNs)).status).toBe(403);

    const huge = randomBytes(1024 * 1024 + 1);
    expect((await call('PUT', `/ns/${ns}/bazel/cas/${sha256Hex(huge)}`, huge)).status).toBe(413);
    expect((await gw.stored('bazel-cas', ns)).map((a) => a.ref.hash)).toEqual([]);

    // Without /ns/ the token's only namespace (or `default`) is used.
    const onlyA = await gw.jwt(['cache:read', 'cache:write'], ['team-a']);
    expect((await call('PUT', `/bazel/cas/${key}`, blob, onlyA)).status).toBe(200);
    expect((await gw.stored('bazel-cas', 'team-a')).map((a) => a.ref.hash)).toContain(key);
  });

  it('answers 503 while the store is down, for reads and writes: never a miss, nothing stored', async () => {
    const ns = uniqueNamespace('bzp');
    const blob = randomBytes(1000);
    gw.proxy?.set({ kind: 'down' });
    try {
      const get = await call('GET', `/ns/${ns}/bazel/ac/${sha256Hex(blob)}`);
      expect(get.status).toBe(503);
      expect(get.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await call('PUT', `/ns/${ns}/bazel/cas/${sha256Hex(blob)}`, blob)).status).toBe(503);
      expect((await call('PUT', `/ns/${ns}/bazel/ac/${sha256Hex(blob)}`, actionResult([{ path: 'x', body: blob }]))).status).toBe(503);
    } finally {
      gw.proxy?.set({ kind: 'pass' });
    }
    expect((await gw.stored('bazel-cas', ns)).map((a) => a.ref.hash)).toEqual([]);
  }, 60_000);
});

describe('Bazel HTTP cache with VC_BAZEL_CHECK_ACTION_RESULTS=false', () => {
  let gw: ClientGateway;
  beforeAll(async () => {
    gw = await startClientGateway({ driver: 'local', config: { cache: { bazelCheckActionResults: false } } });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  });

  it('stores an action result as sent, whatever CAS blobs it names', async () => {
    const ns = uniqueNamespace('bzo');
    const result = actionResult([{ path: 'bazel-out/k8-fastbuild/bin/out.bin', body: randomBytes(100) }]);
    const key = sha256Hex(randomBytes(8));
    const headers = { authorization: `Bearer ${gw.token}` };
    const put = await fetch(`${gw.url}/ns/${ns}/bazel/ac/${key}`, { method: 'PUT', headers, body: result });
    expect(put.status).toBe(200);
    const got = await fetch(`${gw.url}/ns/${ns}/bazel/ac/${key}`, { headers });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(result)).toBe(true);
  });
});
