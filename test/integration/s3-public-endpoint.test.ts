import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { s3TestEnv, testConfig, uniqueBucket } from '../helpers/gateway.js';
import { S3Driver } from '../../src/storage/s3/s3-driver.js';

/** Sends a presigned request to the real store as a client would reach it through another host name. */
function viaHost(url: string, realOrigin: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<number> {
  const u = new URL(url);
  const target = new URL(realOrigin);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, method, path: `${u.pathname}${u.search}`, headers: { ...headers, host: u.host } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('S3 driver with a public endpoint (internal service name vs the address CI uses)', () => {
  const publicEndpoint = 'http://cache-store.example.test:9000';
  let driver: S3Driver;

  beforeAll(async () => {
    const config = testConfig({
      storage: {
        driver: 's3',
        s3: { endpoint: s3TestEnv().endpoint, publicEndpoint, bucket: uniqueBucket(), forcePathStyle: true, createBucket: true, integrity: 'md5' },
      },
    });
    driver = new S3Driver(config.storage.s3);
    await driver.init();
  });
  afterAll(async () => {
    await driver?.close();
  });

  it('signs URLs for the public host, and checks existence through the internal endpoint', async () => {
    const ref = { namespace: 'default', hash: uniqueHash() };
    const a = artifact();
    const put = await driver.presign.upload({ ref, size: a.size, sha256: a.sha256, md5: a.md5 }, 300);
    expect(put.url.startsWith(`${publicEndpoint}/`)).toBe(true);
    expect(await driver.head(ref)).toBeNull();
    // The store accepts the signature when the request carries the public Host, as it will in production.
    expect(await viaHost(put.url, s3TestEnv().endpoint, 'PUT', { ...put.headers }, a.body)).toBe(200);
    const handle = await driver.head(ref);
    expect(handle?.info).toMatchObject({ size: a.size, sha256: a.sha256 });
    const get = await driver.presign.download(handle!, 300);
    expect(get.url.startsWith(`${publicEndpoint}/`)).toBe(true);
    expect(await viaHost(get.url, s3TestEnv().endpoint, 'GET', {})).toBe(200);
  });
});
