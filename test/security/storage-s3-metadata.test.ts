import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { artifact, uniqueHash, type TestArtifact } from '../helpers/artifacts.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { getBytes, postJson, putBytes } from '../helpers/http.js';

/**
 * Issue 9, item 1: nothing a client writes may choose which object a URL names. Ceph RGW keeps
 * extra, unsigned `x-amz-meta-*` headers sent with a presigned PUT; a token limited to namespace
 * `a` must not be able to turn them into a download of namespace `b`'s bytes, nor into a recorded
 * digest other than the one it negotiated.
 */
const JWT_SECRET = 'storage-s3-metadata-secret-0123456789';

function jwt(namespaces: string[]): Promise<string> {
  return new SignJWT({ scope: 'cache:read cache:write', namespaces })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setSubject('ci-job')
    .setExpirationTime('10m')
    .sign(Buffer.from(JWT_SECRET));
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');

describe('S3 metadata a client adds to its own upload (Ceph RGW)', () => {
  let gw: TestGateway;
  let tokenA: string;
  let tokenB: string;
  /** Namespace b's secret artifact, stored in one piece and in parts. */
  const single = { hash: uniqueHash('b-single'), body: artifact(`namespace b secret ${randomBytes(16).toString('hex')}`) };
  const parted = { hash: uniqueHash('b-parts'), body: artifact(`namespace b parted ${randomBytes(16).toString('hex')}`) };
  let partedUploadId = '';

  const negotiate = (body: unknown, token: string) => postJson(`${gw.url}/v1/negotiate`, body, token);

  async function uploadOffer(token: string, namespace: string, hash: string, a: TestArtifact) {
    const r = await negotiate({ hash, namespace, action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 }, token);
    expect(r.body.status).toBe('upload_needed');
    return { url: r.body.url as string, headers: r.body.headers as Record<string, string> };
  }

  /** What namespace a's token gets back when it asks to download `hash` in its own namespace. */
  async function downloadInA(hash: string): Promise<{ status: number; answer: Record<string, unknown>; bytes?: Buffer }> {
    const r = await negotiate({ hash, namespace: 'a', action: 'download' }, tokenA);
    if (r.body.status !== 'found') return { status: r.status, answer: r.body };
    const got = await getBytes(r.body.url as string);
    return { status: r.status, answer: r.body, bytes: got.body };
  }

  beforeAll(async () => {
    gw = await startGateway({ driver: 's3', jwtSecret: JWT_SECRET });
    tokenA = await jwt(['a']);
    tokenB = await jwt(['b']);
    const put = await uploadOffer(tokenB, 'b', single.hash, single.body);
    expect((await putBytes(put.url, single.body.body, put.headers)).status).toBe(200);
    // A one-part multipart upload: its bytes live in a blob, the artifact key holds a pointer.
    const a = parted.body;
    const r = await negotiate({ hash: parted.hash, namespace: 'b', action: 'upload', size: a.size, sha256: a.sha256, parts: [{ size: a.size, md5: a.md5 }] }, tokenB);
    const mp = r.body.multipart as { upload_id: string; parts: { url: string; headers: Record<string, string> }[] };
    partedUploadId = mp.upload_id;
    const res = await putBytes(mp.parts[0]!.url, a.body, mp.parts[0]!.headers);
    expect(res.status).toBe(200);
    const done = await postJson(`${gw.url}/v1/uploads/complete`, { hash: parted.hash, namespace: 'b', upload_id: mp.upload_id, parts: [{ part_number: 1, etag: res.headers.get('etag') }] }, tokenB);
    expect(done.body).toMatchObject({ status: 'stored' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('namespace b is out of reach for a token limited to namespace a', async () => {
    expect((await negotiate({ hash: single.hash, namespace: 'b', action: 'download' }, tokenA)).status).toBe(403);
  });

  it('an object in a carrying x-amz-meta-location / -size of b\'s artifact does not download b\'s bytes', async () => {
    const hash = uniqueHash('evil');
    const mine = artifact(`attacker ${randomBytes(8).toString('hex')}`);
    const put = await uploadOffer(tokenA, 'a', hash, mine);
    const res = await putBytes(put.url, mine.body, {
      ...put.headers,
      'x-amz-meta-location': `artifacts/b/${single.hash}`,
      'x-amz-meta-size': String(single.body.size),
    });
    expect(res.status).toBe(200);
    const got = await downloadInA(hash);
    expect(got.bytes?.equals(single.body.body)).toBe(false);
    expect(got.answer.url as string).not.toContain('/b/');
    expect(got.answer).toMatchObject({ status: 'found', size: mine.size, sha256: mine.sha256 });
    expect(got.bytes?.equals(mine.body)).toBe(true);
  });

  it('a zero-length "pointer" in a naming b\'s multipart blob and upload id does not download b\'s bytes', async () => {
    const hash = uniqueHash('evil-pointer');
    const empty = artifact(Buffer.alloc(0));
    const put = await uploadOffer(tokenA, 'a', hash, empty);
    const res = await putBytes(put.url, empty.body, {
      ...put.headers,
      // What older gateways wrote on a pointer, and what this one writes: both client-addable.
      'x-amz-meta-location': `blobs/b/${parted.hash}/${partedUploadId}`,
      'x-amz-meta-size': String(parted.body.size),
      'x-amz-meta-upload-id': partedUploadId,
    });
    expect(res.status).toBe(200);
    const got = await downloadInA(hash);
    // The pointer can only name a blob of a/<hash>, which does not exist: a storage error, not b's bytes.
    expect(got.bytes?.equals(parted.body.body) ?? false).toBe(false);
    expect(got.answer.url ?? '').not.toContain('/b/');
    expect(got.status).toBe(503);
  });

  it('an unsigned x-amz-meta-sha256 cannot change the digest the gateway records', async () => {
    const hash = uniqueHash('evil-sha');
    const mine = artifact(`attacker ${randomBytes(8).toString('hex')}`);
    const fake = createHash('sha256').update('something else').digest('hex');
    const put = await uploadOffer(tokenA, 'a', hash, mine);
    // RGW 16 keeps this header next to a signed query parameter of the same name (stored as
    // "<fake>,<real>"); signed as a header, any other value is a 403.
    const res = await putBytes(put.url, mine.body, { ...put.headers, 'x-amz-meta-sha256': fake });
    const got = await downloadInA(hash);
    if (res.status === 200) {
      expect(got.answer).toMatchObject({ status: 'found', sha256: mine.sha256 });
    } else {
      expect(res.status).toBe(403);
      expect(got.answer).toEqual({ status: 'missing' });
    }
    expect(JSON.stringify(got.answer)).not.toContain(fake);
  });

  it('the honest client still stores and reads back what it negotiated', async () => {
    const hash = uniqueHash('honest');
    const mine = artifact(randomBytes(512));
    const put = await uploadOffer(tokenA, 'a', hash, mine);
    expect((await putBytes(put.url, mine.body, put.headers)).status).toBe(200);
    const got = await downloadInA(hash);
    expect(got.answer).toMatchObject({ status: 'found', size: mine.size, sha256: mine.sha256 });
    expect(got.bytes?.equals(mine.body)).toBe(true);
    expect(md5(got.bytes!)).toBe(mine.md5);
  });
});
