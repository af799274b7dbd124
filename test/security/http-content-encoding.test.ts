import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { uniqueHash } from '../helpers/artifacts.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Issue 9, "Also fix": `Content-Encoding: gzip|deflate|br` on a body that is not compressed was a
 * 500 (all 196 5xx of a 24,000-request fuzz run). Every way reading a JSON body can fail is the
 * client's doing and gets a 4xx with the usual `{code, message}`; compressed bodies that are
 * what they say still work.
 */
interface Answer {
  status: number;
  body: { code?: string; message?: string; status?: string };
}

function post(url: string, path: string, token: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': String(body.length), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Answer['body']) : {} });
      });
    });
    req.end(body);
  });
}

describe('request bodies that cannot be read are 4xx, never 5xx', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const json = () => Buffer.from(JSON.stringify({ hash: uniqueHash(), action: 'download' }));
  const send = (body: Buffer, headers: Record<string, string> = {}, path = '/v1/negotiate') => post(gw.url, path, gw.token, body, headers);

  it.each(['gzip', 'deflate', 'br', 'x-gzip'])('answers 4xx, not 500, to Content-Encoding %s on a plain body', async (encoding) => {
    for (const path of ['/v1/negotiate', '/v1/negotiate/batch', '/v1/uploads/complete', '/v1/uploads/abort']) {
      const r = await send(json(), { 'content-encoding': encoding }, path);
      // x-gzip is not an encoding we decode: 415; the others are decoded and found not compressed: 400.
      expect([r.status, r.body.code]).toEqual(encoding === 'x-gzip' ? [415, 'unsupported_encoding'] : [400, 'invalid_encoding']);
      expect(r.body.message).toMatch(/Content-Encoding/);
    }
  });

  it('answers 400 to a truncated gzip body', async () => {
    const r = await send(gzipSync(json()).subarray(0, 12), { 'content-encoding': 'gzip' });
    expect([r.status, r.body.code]).toEqual([400, 'invalid_encoding']);
  });

  it('answers 415 to encodings it does not decode', async () => {
    for (const encoding of ['compress', 'zstd', 'gzip, br', 'GZIP-ish']) {
      const r = await send(json(), { 'content-encoding': encoding });
      expect([r.status, r.body.code]).toEqual([415, 'unsupported_encoding']);
    }
  });

  it('still reads bodies compressed as they say', async () => {
    for (const [encoding, compress] of [['gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync]] as const) {
      const r = await send(compress(json()), { 'content-encoding': encoding });
      expect([r.status, r.body.status]).toEqual([200, 'missing']);
    }
  });

  it('stops a decompression bomb at the body limit: 413', async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"hash":"'), Buffer.alloc(20 * 1024 * 1024, 0x61), Buffer.from('"}')]));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const r = await send(bomb, { 'content-encoding': 'gzip' });
    expect([r.status, r.body.code]).toEqual([413, 'payload_too_large']);
  });

  it('answers 400 to invalid JSON and 415 to a charset that is not UTF-8', async () => {
    const broken = await send(Buffer.from('{"hash": '));
    expect([broken.status, broken.body.code]).toEqual([400, 'invalid_json']);
    const utf16 = await send(Buffer.from(JSON.stringify({ hash: 'abc', action: 'download' }), 'utf16le'), {
      'content-type': 'application/json; charset=utf-16le',
    });
    expect([utf16.status, utf16.body.code]).toEqual([415, 'unsupported_media_type']);
    const utf8 = await send(json(), { 'content-type': 'application/json; charset=UTF-8' });
    expect(utf8.status).toBe(200);
  });
});
