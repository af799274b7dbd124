import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { artifact, uniqueHash } from '../helpers/artifacts.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { getBytes, postJson, putBytes } from '../helpers/http.js';
import { purge, rgwControl, startRgw, type RgwCluster } from '../setup/services.ts';

/**
 * A storage outage is not a miss. This suite runs its own Ceph RGW cluster (the shared one keeps
 * serving the other suites), stops its radosgw daemon under a running gateway, and starts it again.
 */
describe('store outage (real Ceph RGW stopped and restarted)', () => {
  let cluster: RgwCluster;
  let gw: TestGateway;
  let bucket: string;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const slot = (Number(process.env.VC_TEST_SLOT ?? 0) + 190) % 380;
    cluster = await startRgw(`${process.env.VC_TEST_RUN ?? 'dev'}/rgw-outage`, slot);
    process.env.VC_TEST_S3_ENDPOINT_OUTAGE = cluster.env.VC_TEST_S3_ENDPOINT;
    bucket = `outage-${Date.now().toString(36)}`;
    const sink = { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) };
    gw = await startGateway({
      driver: 's3',
      logger: pino({ level: 'info' }, sink),
      config: {
        storage: {
          driver: 's3',
          s3: {
            endpoint: cluster.env.VC_TEST_S3_ENDPOINT,
            bucket,
            forcePathStyle: true,
            createBucket: true,
            integrity: 'md5',
            timeout: 2,
          },
        },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await gw?.close();
    if (cluster) {
      await rgwControl(cluster.dir, 'stop');
      await purge(cluster.dir);
    }
  });

  it('answers 503 with Retry-After (never missing) while the store is down, and recovers without a restart', async () => {
    const known = uniqueHash();
    const a = artifact();
    const up = await postJson(`${gw.url}/v1/negotiate`, { hash: known, action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 }, gw.token);
    expect((await putBytes(up.body.url as string, a.body, up.body.headers as Record<string, string>)).status).toBe(200);
    // Seen once before the outage, so the gateway knows it exists.
    expect((await postJson(`${gw.url}/v1/negotiate`, { hash: known, action: 'download' }, gw.token)).body.status).toBe('found');
    const unknown = uniqueHash();
    expect((await getBytes(`${gw.url}/readyz`)).status).toBe(200);

    await rgwControl(cluster.dir, 'stop-gateway');
    try {
      for (const body of [
        { hash: unknown, action: 'download' },
        { hash: unknown, action: 'upload', size: a.size, sha256: a.sha256, md5: a.md5 },
      ]) {
        const r = await postJson(`${gw.url}/v1/negotiate`, body, gw.token);
        expect(r.status).toBe(503);
        expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(r.body.code).toBe('storage_unavailable');
        expect(r.body.status).toBeUndefined();
        expect(r.body.message).toBe('storage unavailable: the object store cannot answer right now; retry later');
      }
      const batch = await postJson<{ results: Record<string, unknown>[] }>(
        `${gw.url}/v1/negotiate/batch`,
        { items: [{ hash: unknown, action: 'download' }, { hash: uniqueHash(), action: 'download' }] },
        gw.token,
      );
      expect(batch.body.results.map((r) => r.code)).toEqual(['storage_unavailable', 'storage_unavailable']);
      const ready = await getBytes(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body.toString()).checks.storage).toMatch(/unavailable/);
      // Clients are told it is the store, never where the store is or which keys it holds.
      const endpoint = new URL(cluster.env.VC_TEST_S3_ENDPOINT as string);
      for (const text of [JSON.stringify(batch.body), ready.body.toString()]) {
        for (const secret of [endpoint.host, endpoint.port, bucket, 'artifacts/', unknown]) expect(text).not.toContain(secret);
      }
      // The operator gets one line per failed request, with the detail and without a stack.
      const failures = logLines.filter((l) => (l.status as number) >= 500);
      expect(failures.map((l) => [l.msg, l.path])).toEqual([
        ['request failed', '/v1/negotiate'],
        ['request failed', '/v1/negotiate'],
      ]);
      for (const f of failures) {
        expect(String(f.err)).toContain('storage unavailable');
        expect(JSON.stringify(f)).not.toMatch(/\n\s+at /);
      }
      // A key already known to exist (L1) is still answered: its bytes were written and cannot change.
      const cached = await postJson(`${gw.url}/v1/negotiate`, { hash: known, action: 'download' }, gw.token);
      expect(cached.body.status).toBe('found');
    } finally {
      await rgwControl(cluster.dir, 'start-gateway');
    }

    const back = await postJson(`${gw.url}/v1/negotiate`, { hash: unknown, action: 'download' }, gw.token);
    expect(back.status).toBe(200);
    expect(back.body).toEqual({ status: 'missing' });
    expect((await getBytes(`${gw.url}/readyz`)).status).toBe(200);
    const metrics = (await getBytes(`${gw.url}/metrics`)).body.toString();
    // Each failed request once: two negotiations and the two items of the batch.
    expect(metrics).toMatch(/vc_storage_errors_total\{operation="negotiate"\} 4\n/);
  }, 120_000);
});
