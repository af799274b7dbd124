import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { artifactKey } from '../../src/storage/object-keys.js';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { startGateway, type DriverKind, type TestGateway } from '../helpers/gateway.js';
import { postJson, putBytes } from '../helpers/http.js';
import { redisUrl, testClock, type Backend } from './harness.js';

/**
 * True counts from every replica: hits are counted per artifact on each gateway and flushed in
 * batches; what every replica flushed adds up, whatever the number of hits between two flushes.
 */
describe.each([
  ['local', 'store'],
  ['local', 'redis'],
  ['s3', 'store'],
  ['s3', 'redis'],
] as const)('access counts from two replicas (%s driver, %s statistics)', (driver: DriverKind, backend: Backend) => {
  let a: TestGateway;
  let b: TestGateway;
  const clock = testClock();

  beforeAll(async () => {
    const config = {
      lifecycle: { eviction: { interval: 0 } },
      ...(backend === 'redis' ? { builds: { redisUrl: redisUrl(), redisPrefix: `counts-${uniqueHash()}` } } : {}),
    };
    a = await startGateway({ driver, now: clock.now, config });
    b = await startGateway({ driver, now: clock.now, config, bucket: a.bucket, localRoot: a.localRoot });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('found negotiations on both replicas, and 1,000 hits between two flushes, all count', async () => {
    const hash = uniqueHash();
    const x = artifact();
    const up = await postJson(`${a.url}/v1/negotiate`, { hash, action: 'upload', size: x.size, sha256: x.sha256, md5: x.md5 }, a.token);
    await putBytes(up.body.url as string, x.body, up.body.headers as Record<string, string>);
    const found = (gw: TestGateway) => postJson(`${gw.url}/v1/negotiate`, { hash, action: 'download' }, gw.token);
    for (let i = 0; i < 7; i++) expect((await found(a)).body.status).toBe('found');
    for (let i = 0; i < 5; i++) expect((await found(b)).body.status).toBe('found');
    await a.gateway.app.lifecycle.flush();
    clock.advance(1000);
    const ref = { namespace: 'default', hash };
    for (let i = 0; i < 1000; i++) a.gateway.app.lifecycle.access.hit(ref);
    await Promise.all([a.gateway.app.lifecycle.flush(), b.gateway.app.lifecycle.flush()]);
    // Nothing pending is lost either: an empty flush writes nothing.
    await a.gateway.app.lifecycle.flush();

    const snapshot = await b.gateway.app.lifecycle.stats.load();
    expect(snapshot.entries.get(artifactKey(ref))).toEqual({ count: 1012, last: clock.now() });
    expect(b.gateway.app.lifecycle.stats.kind).toBe(backend);
  });
});
