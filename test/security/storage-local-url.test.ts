import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { artifact, uniqueHash, type TestArtifact } from '../helpers/artifacts.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postJson, putBytes } from '../helpers/http.js';

/**
 * Issue 9, item 6: the local driver's signed URLs. The first signer joined `k=v` lines with `\n`,
 * so `?sha256=<hex>%0Asize%3D10` verified with `size` gone, and a URL negotiated for 10 bytes
 * took a 5 MB body. A URL must carry exactly the parameters it was signed with: any other
 * spelling of them (folded, repeated, extra) is refused with 403 before a byte is stored.
 */
describe('local driver signed URLs accept only their canonical parameters', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({ driver: 'local' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  async function offer(a: TestArtifact): Promise<{ url: URL; headers: Record<string, string> }> {
    const r = await postJson(`${gw.url}/v1/negotiate`, { hash: uniqueHash('url'), action: 'upload', size: a.size, sha256: a.sha256 }, gw.token);
    expect(r.body.status).toBe('upload_needed');
    return { url: new URL(r.body.url as string), headers: r.body.headers as Record<string, string> };
  }

  /** Rewrites the query string by hand (URLSearchParams would re-encode what we fold). */
  function withQuery(url: URL, query: string): string {
    return `${url.origin}${url.pathname}?${query}`;
  }

  async function expectRefused(res: Response): Promise<void> {
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('signature_rejected');
  }

  const big = randomBytes(5 * 1024 * 1024);

  it('a size folded into the sha256 value does not verify, and the 5 MB body is not taken', async () => {
    const small = artifact(randomBytes(10));
    const { url } = await offer(small);
    const q = url.searchParams;
    const folded = `sha256=${q.get('sha256')}%0Asize%3D${q.get('size')}&exp=${q.get('exp')}&sig=${q.get('sig')}`;
    const res = await fetch(withQuery(url, folded), { method: 'PUT', body: big, headers: { 'content-length': String(big.length) } });
    await expectRefused(res);
    expect(await readdir(join(gw.localRoot, 'tmp'))).toEqual([]);
  });

  it('a parameter given twice is refused, even with the signed value', async () => {
    const a = artifact(randomBytes(10));
    const { url, headers } = await offer(a);
    const doubled = `${url.search.slice(1)}&size=${url.searchParams.get('size')}`;
    await expectRefused(await fetch(withQuery(url, doubled), { method: 'PUT', body: a.body, headers }));
  });

  it('an extra parameter is refused', async () => {
    const a = artifact(randomBytes(10));
    const { url, headers } = await offer(a);
    await expectRefused(await fetch(withQuery(url, `${url.search.slice(1)}&meta-x=1`), { method: 'PUT', body: a.body, headers }));
  });

  it('the URL as signed still takes exactly the negotiated body, and nothing larger', async () => {
    const a = artifact(randomBytes(10));
    const { url, headers } = await offer(a);
    const tooBig = await fetch(url, { method: 'PUT', body: big, headers: { 'content-length': String(big.length) } });
    expect(tooBig.status).toBe(400);
    expect((await putBytes(url.toString(), a.body, headers)).status).toBe(200);
  });
});
