import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { call, downloadSha256, pollUntilFinal, readEvents } from '../../helpers/builds-client.js';
import { redisTestUrl, startBuildGateway, uniquePrefix, type BuildGateway } from '../../helpers/builds-gateway.js';
import { standInBinary, startVeloxStandIn, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { uniqueBucket } from '../../helpers/gateway.js';
import { uniqueRequest, validRequest } from '../../fixtures/builds/requests.js';

/*
 * Two gateway replicas, each with an in-process worker, sharing the suite's real Redis (BullMQ)
 * and real Ceph RGW. Velox itself needs Go and the internet to build RoadRunner, so the builder is
 * a stand-in that speaks Velox's exact Connect JSON wire format (test/helpers/builds-velox-stand-in.ts).
 */
const TOKEN = `token-${randomUUID()}`;
let velox: VeloxStandIn;
let a: BuildGateway;
let b: BuildGateway;

beforeAll(async () => {
  // A released Velox (v2025.2-beta.2) returns its build log with the binary (v3 sends none): the
  // SSE test follows those lines.
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), delayMs: 1500, generation: 'released' });
  const bucket = uniqueBucket();
  const builds = { redisUrl: redisTestUrl(), redisPrefix: uniquePrefix(), veloxUrl: velox.url, concurrency: 4 };
  a = await startBuildGateway({ bucket, builds, token: TOKEN, inProcessWorker: true });
  b = await startBuildGateway({ bucket, builds, token: TOKEN, inProcessWorker: true });
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await velox?.close();
});

describe('builds across two gateway replicas (Redis + RGW)', () => {
  it('50 concurrent identical requests: one build, one artifact for all, then a hit without the queue', async () => {
    const request = validRequest();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call('POST', `${(i % 2 ? a : b).url}/v1/builds`, TOKEN, { ...request, request_id: randomUUID() }),
      ),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(202);
      expect(['queued', 'building']).toContain(answer.body.status);
    }
    const ids = new Set(answers.map((x) => x.body.id));
    expect(ids.size).toBe(1);
    const id = String(answers[0]?.body.id);
    expect(answers[0]?.headers.get('location')).toBe(`/v1/builds/${id}`);

    // Half follow with SSE, half poll; on both replicas.
    const finals = await Promise.all(
      answers.map(async (_, i) => {
        const gw = i % 2 ? a : b;
        if (i % 4 < 2) {
          const events = await readEvents(`${gw.url}/v1/builds/${id}/events`, TOKEN, AbortSignal.timeout(30_000));
          return events.filter((e) => e.event === 'state').at(-1)?.data ?? {};
        }
        return (await pollUntilFinal(gw.url, id, TOKEN)).body;
      }),
    );
    expect(velox.builds).toBe(1);
    expect(velox.calls).toHaveLength(1);
    const expected = createHash('sha256').update(standInBinary(velox.calls[0]?.body ?? {}, 64 * 1024)).digest('hex');
    for (const final of finals) expect(final).toMatchObject({ status: 'done', id, sha256: expected, size: 64 * 1024 });
    const downloads = await Promise.all([finals[0], finals[3], finals[49]].map((f) => downloadSha256(String(f?.url))));
    for (const d of downloads) expect(d).toEqual({ status: 200, sha256: expected, size: 64 * 1024 });

    const artifact = await call('GET', `${a.url}/v1/builds/${id}/artifact`, TOKEN);
    expect(artifact.status).toBe(302);
    expect((await downloadSha256(String(artifact.headers.get('location')))).sha256).toBe(expected);

    const ensureA = jest.spyOn(a.runtime.queue, 'ensure');
    const ensureB = jest.spyOn(b.runtime.queue, 'ensure');
    const hit = await call('POST', `${b.url}/v1/builds`, TOKEN, request);
    expect(hit.status).toBe(200);
    expect(hit.body).toMatchObject({ status: 'found', hash: String(id).split('-')[0], sha256: expected, size: 64 * 1024 });
    expect(typeof hit.body.expires_at).toBe('string');
    expect((await downloadSha256(String(hit.body.url))).sha256).toBe(expected);
    expect(ensureA).not.toHaveBeenCalled();
    expect(ensureB).not.toHaveBeenCalled();
    expect(velox.calls).toHaveLength(1);

    // The binary carries the Velox cache metadata.
    const info = (await a.gateway.driver.head(a.runtime.service.ref(String(hit.body.hash))))?.info;
    expect(info?.meta).toMatchObject({
      'rr-version': 'v2025.1.2',
      platform: 'linux/amd64',
      'build-key': hit.body.hash,
      builder: 'velox',
      'requested-by': 'static:1',
      'built-by': expect.stringMatching(/^velocity-gateway@/) as unknown,
    });
    expect(hit.body.build).toMatchObject({ requested_by: 'static:1', builder: 'velox', rr_version: 'v2025.1.2' });
    expect(Number(info?.meta?.['build-duration-ms'])).toBeGreaterThanOrEqual(1400);
  });

  it('invalid requests answer 400 naming the field and never reach the queue or the builder', async () => {
    const calls = velox.calls.length;
    const ensure = jest.spyOn(a.runtime.queue, 'ensure');
    const cases: [Record<string, unknown>, string][] = [
      [validRequest({ rr_version: 'latest' }), 'rr_version'],
      [validRequest({ target_platform: { os: 'linux', arch: 'sparc' } }), 'target_platform.arch'],
      [validRequest({ plugins: [] }), 'plugins'],
      [validRequest({ request_id: 'not-a-uuid' }), 'request_id'],
    ];
    for (const [body, field] of cases) {
      const answer = await call('POST', `${a.url}/v1/builds`, TOKEN, body);
      expect(answer.status).toBe(400);
      expect(answer.body.code).toBe('invalid_build_request');
      expect(String(answer.body.message)).toContain(field);
    }
    const notJson = await fetch(`${a.url}/v1/builds`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"rr_version":',
    });
    expect(notJson.status).toBe(400);
    expect(ensure).not.toHaveBeenCalled();
    expect(velox.calls).toHaveLength(calls);
    ensure.mockRestore();
  });

  it('answers 401 without a token and 404 for unknown builds', async () => {
    expect((await call('POST', `${a.url}/v1/builds`, 'wrong', validRequest())).status).toBe(401);
    expect((await call('GET', `${a.url}/v1/builds/${'a'.repeat(64)}-7`, TOKEN)).status).toBe(404);
    expect((await call('GET', `${a.url}/v1/builds/..%2f..%2fetc`, TOKEN)).status).toBe(404);
  });

  it('streams state changes and log lines as Server-Sent Events', async () => {
    const submitted = await call('POST', `${a.url}/v1/builds`, TOKEN, uniqueRequest('sse'));
    expect(submitted.status).toBe(202);
    const events = await readEvents(`${b.url}/v1/builds/${String(submitted.body.id)}/events`, TOKEN, AbortSignal.timeout(20_000));
    const states = events.filter((e) => e.event === 'state').map((e) => e.data.status);
    expect(states.at(-1)).toBe('done');
    expect(states).toContain('building');
    const lines = events.filter((e) => e.event === 'log').flatMap((e) => e.data.lines as string[]);
    expect(lines).toContain('velox: building v2025.1.2');
    const done = events.find((e) => e.data.status === 'done');
    expect(typeof done?.data.url).toBe('string');
  });

  it('the artifact route answers 409 with the status until the build is done', async () => {
    const submitted = await call('POST', `${b.url}/v1/builds`, TOKEN, uniqueRequest('artifact-409'));
    const early = await call('GET', `${a.url}/v1/builds/${String(submitted.body.id)}/artifact`, TOKEN);
    expect(early.status).toBe(409);
    expect(['queued', 'building']).toContain(early.body.status);
    const final = await pollUntilFinal(a.url, String(submitted.body.id), TOKEN);
    expect(final.body.status).toBe('done');
  });
});
