import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { startVeloxStandIn, type StandInOptions, type VeloxStandIn } from '../../helpers/builds-velox-stand-in.js';
import { HTTP_PLUGINS } from '../../fixtures/builds/requests.js';

// The stand-in is only worth its tests if it answers as Velox's server.go and connect-go do: these
// pin the behaviours the builder's tests rely on.
let velox: VeloxStandIn | undefined;
afterEach(async () => {
  await velox?.close();
  velox = undefined;
});

async function standIn(opts: Partial<StandInOptions> = {}): Promise<VeloxStandIn> {
  velox = await startVeloxStandIn({ outDir: join(tmpdir(), `vc-velox-${randomUUID()}`), ...opts });
  return velox;
}

async function post(v: VeloxStandIn, body: unknown, headers: Record<string, string> = {}, path = '/api.service.v1.BuildService/Build') {
  const res = await request(`${v.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const valid = (extra: Record<string, unknown> = {}) => ({ request_id: randomUUID(), rr_version: 'v2025.1.2', plugins: HTTP_PLUGINS, ...extra });

describe('Velox stand-in', () => {
  it('answers other paths with Go\'s plain-text 404, another content type with an empty 415, GET with 405', async () => {
    const v = await standIn();
    expect(await post(v, valid(), {}, '/api.service.v1.BuildService/Other')).toMatchObject({ status: 404, text: '404 page not found\n' });
    const wrongType = await post(v, valid(), { 'content-type': 'text/plain' });
    expect(wrongType).toMatchObject({ status: 415, text: '' });
    expect(wrongType.headers['accept-post']).toContain('application/json');
    const get = await request(`${v.url}/api.service.v1.BuildService/Build`);
    expect(get.statusCode).toBe(405);
    expect(get.headers.allow).toBe('POST');
    await get.body.dump();
  });

  it('validates as protovalidate does: a missing request_id is not a UUID; every violation listed', async () => {
    const v = await standIn();
    const res = await post(v, { rr_version: 'latest', plugins: [{ module_name: '', tag: 'v1' }] });
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text) as { code: string; message: string };
    expect(body.code).toBe('invalid_argument');
    expect(body.message).toBe(
      'validation error:\n - request_id: value must be a valid UUID [string.uuid]\n' +
        " - rr_version: rr_version must be a semantic version starting with 'v' (e.g., v2025.1.0), 'master', or a git commit SHA (7-40 hex characters) [rr_version.format]\n" +
        ' - plugins[0].module_name: value is required [required]',
    );
    expect(v.calls).toHaveLength(0);
  });

  it('reads camelCase names; a released server drops fields 6-9 silently', async () => {
    const v3 = await standIn();
    await post(v3, { ...valid(), rrVersion: undefined, race: true });
    await post(v3, { requestId: randomUUID(), rrVersion: 'v2025.1.3', plugins: HTTP_PLUGINS.map((p) => ({ moduleName: p.module_name, tag: p.tag })) });
    expect(v3.calls.map((c) => c.decoded.rr_version)).toEqual(['v2025.1.2', 'v2025.1.3']);
    expect(v3.calls[0]?.decoded.race).toBe(true);
    await v3.close();
    const released = await standIn({ generation: 'released' });
    const res = await post(released, valid({ race: true, replaces: [{ old: '', new: '' }] }));
    expect(res.status).toBe(200);
    expect(released.calls[0]?.decoded).toMatchObject({ race: false, replaces: [] });
  });

  it('answers already_exists to an identical build while one runs (v3: whatever the request_id)', async () => {
    const v = await standIn({ delayMs: 300 });
    const first = post(v, valid());
    await new Promise((r) => setTimeout(r, 50));
    const second = await post(v, valid({ plugins: [...HTTP_PLUGINS].reverse() }));
    expect(second.status).toBe(409);
    expect(JSON.parse(second.text)).toMatchObject({ code: 'already_exists', message: expect.stringMatching(/^build [0-9a-f]+ is already in progress$/) as unknown });
    expect(JSON.parse((await first).text)).toEqual({ path: expect.any(String) as unknown });
  });

  it('a released server keys on request_id too: a different id builds again at once', async () => {
    const v = await standIn({ generation: 'released', delayMs: 200 });
    const [a, b] = await Promise.all([post(v, valid()), post(v, valid())]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(v.maxRunning).toBe(2);
  });
});
