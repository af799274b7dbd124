import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { artifact, uniqueHash, type TestArtifact } from '../helpers/artifacts.js';
import { startGateway, type DriverKind, type TestGateway } from '../helpers/gateway.js';
import { getBytes, postJson, putBytes } from '../helpers/http.js';

/**
 * One contract, every driver: the local driver (the embedded default) and the S3 driver on a real
 * Ceph RGW. The guarantees (first write wins, integrity bound into the URL, scoped tokens) must
 * hold the same way on both.
 */
const JWT_SECRET = 'contract-test-secret-0123456789abcdef';
const REAL_NOW = Date.now;

async function jwt(claims: Record<string, unknown>, expiresIn = '10m'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setSubject('ci-job')
    .setExpirationTime(expiresIn)
    .sign(Buffer.from(JWT_SECRET));
}

describe.each<DriverKind>(['local', 's3'])('negotiation contract (%s driver)', (driver) => {
  let gw: TestGateway;
  /** The gateway's clock: tests move it to make URLs expire. */
  let clockOffset = 0;

  beforeAll(async () => {
    gw = await startGateway({ driver, jwtSecret: JWT_SECRET, now: () => REAL_NOW() + clockOffset });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const negotiate = (body: unknown, token = gw.token) => postJson(`${gw.url}/v1/negotiate`, body, token);
  const uploadBody = (hash: string, a: TestArtifact, extra: Record<string, unknown> = {}) => ({
    hash,
    action: 'upload',
    size: a.size,
    sha256: a.sha256,
    md5: a.md5,
    ...extra,
  });

  async function store(hash: string, a: TestArtifact, namespace?: string): Promise<void> {
    const r = await negotiate(uploadBody(hash, a, namespace ? { namespace } : {}));
    expect(r.body.status).toBe('upload_needed');
    const put = await putBytes(r.body.url as string, a.body, r.body.headers as Record<string, string>);
    expect(put.status).toBe(200);
  }

  it('answers missing for an unknown key, then found with the recorded digest after an upload', async () => {
    const hash = uniqueHash();
    const a = artifact();
    expect((await negotiate({ hash, action: 'download' })).body).toEqual({ status: 'missing' });

    const up = await negotiate(uploadBody(hash, a));
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ status: 'upload_needed', method: 'PUT' });
    const headers = up.body.headers as Record<string, string>;
    expect(headers['If-None-Match']).toBe('*');
    expect(headers['Content-Length']).toBe(String(a.size));
    expect(headers['Content-MD5'] ?? headers['x-amz-checksum-sha256']).toBeDefined();
    expect(Date.parse(up.body.expires_at as string)).toBeGreaterThan(Date.now());
    expect((await putBytes(up.body.url as string, a.body, headers)).status).toBe(200);

    const down = await negotiate({ hash, action: 'download' });
    expect(down.body).toMatchObject({ status: 'found', size: a.size, sha256: a.sha256 });
    const got = await getBytes(down.body.url as string);
    expect(got.status).toBe(200);
    expect(got.body.equals(a.body)).toBe(true);

    expect((await negotiate(uploadBody(hash, a))).body).toEqual({ status: 'skipped' });
  });

  it('serves byte ranges of an artifact', async () => {
    const hash = uniqueHash();
    const a = artifact(randomBytes(4096));
    await store(hash, a);
    const { url } = (await negotiate({ hash, action: 'download' })).body as { url: string };
    const part = await getBytes(url, { Range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.body.equals(a.body.subarray(100, 200))).toBe(true);
  });

  it('20 clients racing on one missing key: exactly one upload wins, everyone later reads its bytes', async () => {
    const hash = uniqueHash('race');
    const bodies = Array.from({ length: 20 }, (_, i) => artifact(Buffer.from(`writer ${i} ${randomBytes(64).toString('hex')}`)));
    // Every client negotiates before any uploads, so all 20 hold an upload URL for the same key.
    const offers = await Promise.all(bodies.map((a) => negotiate(uploadBody(hash, a))));
    for (const o of offers) expect(o.body.status).toBe('upload_needed');
    const puts = await Promise.all(
      offers.map((o, i) => putBytes(o.body.url as string, bodies[i]!.body, o.body.headers as Record<string, string>)),
    );
    const statuses = puts.map((p) => p.status);
    const winners = statuses.flatMap((s, i) => (s === 200 ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    const winner = bodies[winners[0]!]!;

    for (let i = 0; i < 3; i++) {
      const down = await negotiate({ hash, action: 'download' });
      expect(down.body).toMatchObject({ status: 'found', sha256: winner.sha256, size: winner.size });
      const got = await getBytes(down.body.url as string);
      expect(createHash('sha256').update(got.body).digest('hex')).toBe(winner.sha256);
      expect(got.body.equals(winner.body)).toBe(true);
    }
  });

  it('a key answered missing moments ago is offered without a store lookup, and the store still refuses a second writer', async () => {
    // The CI flow: job A asks replica 1 to download, misses and builds; meanwhile job B stores
    // the key through replica 2, which replica 1 cannot know about.
    const replica2 = await startGateway({ driver, bucket: gw.bucket, localRoot: gw.localRoot, token: gw.token });
    try {
      const hash = uniqueHash('recent-miss');
      const first = artifact(Buffer.from(`job B ${randomBytes(32).toString('hex')}`));
      const late = artifact(Buffer.from(`job A ${randomBytes(32).toString('hex')}`));
      expect((await negotiate({ hash, action: 'download' })).body).toEqual({ status: 'missing' });
      const b = await postJson(`${replica2.url}/v1/negotiate`, uploadBody(hash, first), gw.token);
      expect(b.body.status).toBe('upload_needed');
      expect((await putBytes(b.body.url as string, first.body, b.body.headers as Record<string, string>)).status).toBe(200);

      // Replica 1 still remembers the miss and offers A an upload URL; the store refuses it.
      const offer = await negotiate(uploadBody(hash, late));
      expect(offer.body.status).toBe('upload_needed');
      const put = await putBytes(offer.body.url as string, late.body, offer.body.headers as Record<string, string>);
      expect(put.status).toBe(412);
      // The offer took the remembered miss: asked again, replica 1 checks the store and skips.
      expect((await negotiate(uploadBody(hash, late))).body).toEqual({ status: 'skipped' });
      // A remembered miss never answers a download: B's artifact is found, with B's bytes.
      const down = await negotiate({ hash, action: 'download' });
      expect(down.body).toMatchObject({ status: 'found', sha256: first.sha256, size: first.size });
      expect((await getBytes(down.body.url as string)).body.equals(first.body)).toBe(true);
    } finally {
      await replica2.close();
    }
  });

  it('rejects a tampered URL and a URL used with the wrong method', async () => {
    const hash = uniqueHash();
    const a = artifact();
    const up = await negotiate(uploadBody(hash, a));
    const url = new URL(up.body.url as string);
    const sigParam = [...url.searchParams.keys()].find((k) => /sig/i.test(k))!;
    const sig = url.searchParams.get(sigParam)!;
    url.searchParams.set(sigParam, (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    const tampered = await putBytes(url.toString(), a.body, up.body.headers as Record<string, string>);
    expect(tampered.status).toBe(403);

    // A GET of the upload URL is not a download.
    expect((await getBytes(up.body.url as string)).status).toBe(403);

    await putBytes(up.body.url as string, a.body, up.body.headers as Record<string, string>);
    const down = await negotiate({ hash, action: 'download' });
    const wrongMethod = await putBytes(down.body.url as string, randomBytes(a.size), {});
    expect(wrongMethod.status).toBe(403);
    // Pointing a URL at another key breaks its signature.
    const other = (down.body.url as string).replace(hash, uniqueHash());
    expect((await getBytes(other)).status).toBe(403);
  });

  it('rejects an expired URL', async () => {
    const hash = uniqueHash();
    const a = artifact();
    // The gateway's shortest TTL is a minute; ask the driver for a one-second URL and outlive it.
    const ref = { namespace: 'default', hash };
    const up = await gw.gateway.driver.presign!.upload({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, 1);
    // A download URL of a stored artifact (the S3 driver resolves where an artifact's bytes are).
    const stored = uniqueHash();
    await store(stored, a);
    const handle = await gw.gateway.driver.head({ namespace: 'default', hash: stored });
    const down = await gw.gateway.driver.presign!.download(handle!, 1);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await putBytes(up.url, a.body, { ...up.headers })).status).toBe(403);
    expect((await getBytes(down.url)).status).toBe(403);
    expect((await negotiate({ hash, action: 'download' })).body.status).toBe('missing');
  });

  it('issues URLs that expire after the configured TTL', async () => {
    const hash = uniqueHash();
    const a = artifact();
    clockOffset = -3 * 3600_000;
    try {
      // Signed "three hours ago" by a gateway whose clock is behind: already expired for the store.
      const up = await gw.gateway.driver.presign!.upload({ ref: { namespace: 'default', hash }, size: a.size, sha256: a.sha256, md5: a.md5 }, 900);
      expect(up.expiresAt.getTime()).toBeLessThan(REAL_NOW());
      clockOffset = 0;
      expect((await putBytes(up.url, a.body, { ...up.headers })).status).toBe(403);
    } finally {
      clockOffset = 0;
    }
  });

  it('rejects a body that differs from the declared length or digest', async () => {
    const hash = uniqueHash();
    const a = artifact(randomBytes(2048));
    const up = await negotiate(uploadBody(hash, a));
    const headers = up.body.headers as Record<string, string>;
    const sameLengthOtherBytes = Buffer.from(a.body);
    sameLengthOtherBytes[0] = sameLengthOtherBytes[0]! ^ 0xff;
    expect((await putBytes(up.body.url as string, sameLengthOtherBytes, headers)).status).toBeGreaterThanOrEqual(400);
    const longer = Buffer.concat([a.body, Buffer.from('tail')]);
    const { 'Content-Length': _declared, ...withoutLength } = headers;
    expect((await putBytes(up.body.url as string, longer, withoutLength)).status).toBeGreaterThanOrEqual(400);
    expect((await putBytes(up.body.url as string, a.body.subarray(0, 100), withoutLength)).status).toBeGreaterThanOrEqual(400);
    expect((await negotiate({ hash, action: 'download' })).body.status).toBe('missing');
    // The genuine body still goes through the same URL.
    expect((await putBytes(up.body.url as string, a.body, headers)).status).toBe(200);
  });

  it('enforces scopes and namespaces from JWT claims', async () => {
    const readOnly = await jwt({ scope: 'cache:read', namespaces: ['*'] });
    const a = artifact();
    const hash = uniqueHash();
    const denied = await negotiate(uploadBody(hash, a), readOnly);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'forbidden' });
    expect(denied.body.message).toMatch(/cache:write/);
    expect((await negotiate({ hash, action: 'download' }, readOnly)).body.status).toBe('missing');

    const onlyA = await jwt({ scope: 'cache:read cache:write', namespaces: ['a'] });
    const inA = await negotiate(uploadBody(hash, a, { namespace: 'a' }), onlyA);
    expect(inA.body.status).toBe('upload_needed');
    const inB = await negotiate({ hash, action: 'download', namespace: 'b' }, onlyA);
    expect(inB.status).toBe(403);
    expect(inB.body.message).toMatch(/namespace b/);
    const batch = await postJson(`${gw.url}/v1/negotiate/batch`, { items: [{ hash, action: 'download', namespace: 'b' }] }, onlyA);
    expect((batch.body.results as { code: string }[])[0]).toMatchObject({ status: 'error', code: 'forbidden' });

    // Namespaces are separate key spaces.
    await store(hash, a, 'c');
    expect((await negotiate({ hash, action: 'download', namespace: 'c' })).body.status).toBe('found');
    expect((await negotiate({ hash, action: 'download', namespace: 'd' })).body.status).toBe('missing');
  });

  it('refuses missing, malformed and expired tokens with 401', async () => {
    const body = { hash: uniqueHash(), action: 'download' };
    expect((await postJson(`${gw.url}/v1/negotiate`, body)).status).toBe(401);
    expect((await negotiate(body, 'not-a-token')).status).toBe(401);
    const expired = await new SignJWT({ scope: 'cache:read' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(Buffer.from(JWT_SECRET));
    const r = await negotiate(body, expired);
    expect(r.status).toBe(401);
    expect(r.body.message).toMatch(/expired/);
    const forged = await new SignJWT({ scope: 'admin', namespaces: '*' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(Buffer.from('another-secret-that-is-long-enough-000'));
    expect((await negotiate(body, forged)).status).toBe(401);
  });

  it('answers bad input with 400 and a message naming the field', async () => {
    const bad = async (body: unknown, pattern: RegExp, code = 'bad_request') => {
      const r = await negotiate(body);
      expect(r.status).toBe(400);
      expect(r.body.code).toBe(code);
      expect(r.body.message).toMatch(pattern);
    };
    await bad('{"hash": "abc", "action":', /not valid JSON/, 'invalid_json');
    await bad({ hash: '../etc/passwd', action: 'download' }, /^hash: must match/);
    await bad({ hash: 'x'.repeat(129), action: 'download' }, /hash/);
    await bad({ hash: 'ok', action: 'download', namespace: 'Upper' }, /namespace/);
    await bad({ hash: 'ok', action: 'fetch' }, /action/);
    await bad({ hash: 'ok', action: 'upload' }, /size and sha256/);
    await bad({ hash: 'ok', action: 'upload', size: -1, sha256: 'a'.repeat(64) }, /size/);
    await bad({ hash: 'ok', action: 'upload', size: 1, sha256: 'XYZ' }, /sha256/);
    await bad({ hash: 'ok', action: 'download', extra: 1 }, /unknown field/);
    const items = Array.from({ length: 1001 }, () => ({ hash: 'ok', action: 'download' }));
    const big = await postJson(`${gw.url}/v1/negotiate/batch`, { items }, gw.token);
    expect(big.status).toBe(400);
    expect(big.body.message).toMatch(/items: must have at most 1000/);
    const empty = await postJson(`${gw.url}/v1/negotiate/batch`, { items: [] }, gw.token);
    expect(empty.status).toBe(400);
    const notJson = await fetch(`${gw.url}/v1/negotiate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'text/plain' },
      body: 'hash=abc',
    });
    expect(notJson.status).toBe(415);
  });

  it('answers a batch in order, with errors per item', async () => {
    const known = uniqueHash();
    const a = artifact();
    await store(known, a);
    const missing = uniqueHash();
    const r = await postJson<{ results: Record<string, unknown>[] }>(
      `${gw.url}/v1/negotiate/batch`,
      {
        items: [
          { hash: known, action: 'download' },
          { hash: 'bad/hash', action: 'download' },
          { hash: missing, action: 'download' },
          { hash: known, action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 },
          { hash: missing, action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 },
        ],
      },
      gw.token,
    );
    expect(r.status).toBe(200);
    const [found, invalid, miss, skipped, upload] = r.body.results;
    expect(found).toMatchObject({ status: 'found', sha256: a.sha256 });
    expect(invalid).toMatchObject({ status: 'error', code: 'bad_request' });
    expect(invalid!.message).toMatch(/hash/);
    expect(miss).toEqual({ status: 'missing' });
    expect(skipped).toEqual({ status: 'skipped' });
    expect(upload).toMatchObject({ status: 'upload_needed' });
  });

  it('uploads a large artifact in parts, verified before it becomes visible; a second writer is refused', async () => {
    const hash = uniqueHash('mp');
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = randomBytes(300 * 1024);
    const whole = artifact(Buffer.concat([part1, part2]));
    const parts = [part1, part2].map((p) => ({ size: p.length, md5: createHash('md5').update(p).digest('base64') }));
    const start = async () => {
      const r = await negotiate({ hash, action: 'upload', size: whole.size, sha256: whole.sha256, parts });
      expect(r.body.status).toBe('upload_needed');
      return r.body.multipart as { upload_id: string; parts: { part_number: number; url: string; headers: Record<string, string> }[] };
    };
    const first = await start();
    const second = await start();
    expect(first.parts).toHaveLength(2);

    // A part that is not what was declared is refused by the store.
    const badPart = Buffer.from(part2);
    badPart[0] = badPart[0]! ^ 1;
    expect((await putBytes(first.parts[1]!.url, badPart, first.parts[1]!.headers)).status).toBeGreaterThanOrEqual(400);

    const upload = async (mp: typeof first) =>
      Promise.all(
        mp.parts.map(async (p, i) => {
          const res = await putBytes(p.url, [part1, part2][i]!, p.headers);
          expect(res.status).toBe(200);
          return { part_number: p.part_number, etag: res.headers.get('etag')! };
        }),
      );
    const etags1 = await upload(first);
    const etags2 = await upload(second);
    // Not visible before completion.
    expect((await negotiate({ hash, action: 'download' })).body.status).toBe('missing');

    const wrong = await postJson(`${gw.url}/v1/uploads/complete`, { hash, upload_id: first.upload_id, parts: etags1.slice(0, 1) }, gw.token);
    expect(wrong.status).toBe(400);

    const done = await postJson(`${gw.url}/v1/uploads/complete`, { hash, upload_id: first.upload_id, parts: etags1 }, gw.token);
    expect(done.body).toEqual({ status: 'stored', size: whole.size, sha256: whole.sha256 });
    const again = await postJson(`${gw.url}/v1/uploads/complete`, { hash, upload_id: second.upload_id, parts: etags2 }, gw.token);
    expect(again.body).toEqual({ status: 'skipped' });
    const gone = await postJson(`${gw.url}/v1/uploads/complete`, { hash, upload_id: first.upload_id, parts: etags1 }, gw.token);
    expect(gone.status).toBe(404);

    const down = await negotiate({ hash, action: 'download' });
    expect(down.body).toMatchObject({ status: 'found', size: whole.size, sha256: whole.sha256 });
    const got = await getBytes(down.body.url as string);
    expect(got.body.equals(whole.body)).toBe(true);
  });

  it('requires parts for artifacts over the multipart threshold', async () => {
    const r = await negotiate({ hash: uniqueHash(), action: 'upload', size: 200 * 1024 * 1024, sha256: 'a'.repeat(64), md5: artifact().md5 });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('multipart_required');
  });
});
