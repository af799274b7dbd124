import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { RemoteClient } from '../../src/cli/remote/client.js';
import { RemoteCache } from '../../src/cli/remote/remote-cache.js';
import type { FoundAnswer } from '../../src/cli/remote/protocol.js';
import { noProgress } from '../../src/cli/report/progress.js';
import { artifact, uniqueHash, type TestArtifact } from '../helpers/artifacts.js';
import { startGateway, type DriverKind, type TestGateway } from '../helpers/gateway.js';
import { getBytes, postJson, putBytes } from '../helpers/http.js';
import { testClock } from './harness.js';

const JWT_SECRET = 'lifecycle-test-secret-0123456789abcdef';

/**
 * Two gateway replicas on one store, one clock. What a purge (or an eviction) must leave behind:
 * the replica that deleted forgets at once; the other answers `found` for at most
 * VC_KNOWN_KEYS_TTL; a URL handed out before is a 404, which the CLI takes as a miss; the key
 * written again serves its new bytes.
 */
describe.each<DriverKind>(['local', 's3'])('purge, re-upload and the L1 bound (%s driver)', (driver) => {
  let a: TestGateway;
  let b: TestGateway;
  const clock = testClock();
  const config = { lifecycle: { knownKeysTtl: '5s', eviction: { maxEntries: 1, interval: 0 } } };

  beforeAll(async () => {
    a = await startGateway({ driver, jwtSecret: JWT_SECRET, now: clock.now, config });
    b = await startGateway({ driver, jwtSecret: JWT_SECRET, now: clock.now, config, bucket: a.bucket, localRoot: a.localRoot });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const negotiate = (gw: TestGateway, body: Record<string, unknown>) => postJson(`${gw.url}/v1/negotiate`, body, gw.token);
  const admin = (gw: TestGateway, method: string, path: string, token = gw.token) =>
    fetch(`${gw.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

  async function upload(gw: TestGateway, hash: string, x: TestArtifact): Promise<void> {
    const r = await negotiate(gw, { hash, action: 'upload', size: x.size, sha256: x.sha256, md5: x.md5 });
    expect(r.body.status).toBe('upload_needed');
    expect((await putBytes(r.body.url as string, x.body, r.body.headers as Record<string, string>)).status).toBe(200);
  }

  it('admin endpoints need the admin scope', async () => {
    const reader = await new SignJWT({ scope: 'cache:read cache:write', namespaces: '*' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(Buffer.from(JWT_SECRET));
    expect((await admin(a, 'POST', '/v1/admin/gc', reader)).status).toBe(403);
    expect((await admin(a, 'GET', '/v1/admin/stats', reader)).status).toBe(403);
    expect((await admin(a, 'DELETE', `/v1/admin/artifacts/default/${uniqueHash()}`, reader)).status).toBe(403);
    expect((await admin(a, 'GET', '/v1/admin/stats', 'not-a-token')).status).toBe(401);
  });

  it('purge: gone at once here, within the L1 bound there; old URLs are a CLI miss; a new upload serves new bytes', async () => {
    const hash = uniqueHash();
    const first = artifact('the first bytes');
    await upload(a, hash, first);
    const foundB = await negotiate(b, { hash, action: 'download' });
    expect(foundB.body).toMatchObject({ status: 'found', sha256: first.sha256 });

    const purged = await admin(a, 'DELETE', `/v1/admin/artifacts/default/${hash}`);
    expect(purged).toMatchObject({ status: 200, body: { status: 'purged', hash } });
    expect((await admin(a, 'DELETE', `/v1/admin/artifacts/default/${hash}`)).status).toBe(404);
    expect((await negotiate(a, { hash, action: 'download' })).body).toEqual({ status: 'missing' });

    // B's L1 may still say found, for at most VC_KNOWN_KEYS_TTL (5 s here)...
    clock.advance(4000);
    expect((await negotiate(b, { hash, action: 'download' })).body.status).toBe('found');
    clock.advance(1000);
    expect((await negotiate(b, { hash, action: 'download' })).body).toEqual({ status: 'missing' });

    // ...and the URL it handed out is a 404: the CLI takes it as a miss and keeps the remote on.
    expect((await getBytes(foundB.body.url as string)).status).toBe(404);
    const warnings: string[] = [];
    const remote = new RemoteCache({
      client: new RemoteClient({ url: b.url, token: b.token, timeoutMs: 5000, fetch }),
      namespace: 'default',
      warn: (m) => warnings.push(m),
      progress: noProgress,
    });
    expect(await remote.fetchBytes('task', foundB.body as unknown as FoundAnswer)).toBeNull();
    expect(warnings).toEqual([]);
    expect(remote.problem).toBeUndefined();

    const second = artifact('other bytes, written after the purge');
    await upload(b, hash, second);
    for (const gw of [a, b]) {
      const found = await negotiate(gw, { hash, action: 'download' });
      expect(found.body).toMatchObject({ status: 'found', sha256: second.sha256, size: second.size });
      const got = await getBytes(found.body.url as string);
      expect(got.body.toString()).toBe('other bytes, written after the purge');
    }
  });

  it('POST /v1/admin/gc: a dry run lists, a pass deletes; stats and metrics follow', async () => {
    // Whatever earlier tests left: start from one artifact.
    await admin(a, 'POST', '/v1/admin/gc');
    const [x, y] = [uniqueHash('x'), uniqueHash('y')];
    await upload(a, x, artifact('x bytes'));
    clock.advance(2000);
    await upload(a, y, artifact('y bytes!'));
    await negotiate(b, { hash: y, action: 'download' });
    const before = await admin(a, 'GET', '/v1/admin/stats');
    const objects = before.body.objects as number;
    expect(objects).toBeGreaterThanOrEqual(2);

    const dry = await admin(a, 'POST', '/v1/admin/gc?dry_run=1');
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ deleted: objects - 1, kept: 1, dry_run: true });
    expect(Object.keys(dry.body)).toEqual(expect.arrayContaining(['deleted', 'freed_bytes', 'kept', 'duration_ms', 'dry_run']));
    expect((dry.body.items as { hash: string }[]).map((i) => i.hash)).toContain(x);
    expect((await admin(a, 'GET', '/v1/admin/stats')).body.objects).toBe(objects);

    const pass = await admin(b, 'POST', '/v1/admin/gc');
    expect(pass.body).toMatchObject({ deleted: objects - 1, kept: 1, dry_run: false, complete: true });
    const after = await admin(a, 'GET', '/v1/admin/stats');
    expect(after.body).toMatchObject({ objects: 1, namespaces: [{ space: 'artifacts', namespace: 'default', objects: 1 }] });
    // The survivor is the one read last (LRU, counted on the other replica and flushed by the pass).
    expect((await negotiate(a, { hash: y, action: 'download' })).body.status).toBe('found');
    expect((await admin(a, 'POST', '/v1/admin/gc?dry_run=maybe')).status).toBe(400);

    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toMatch(/vc_evictions_total\{reason="count"\} [1-9]/);
    expect(metrics).toMatch(/vc_store_objects\{space="artifacts"\} 1/);
    expect(metrics).toMatch(/vc_gc_duration_seconds_count\{result="ok"\} [1-9]/);
  });
});
