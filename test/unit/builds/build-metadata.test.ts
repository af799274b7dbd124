import { describe, expect, it } from '@jest/globals';
import { buildArtifactRef } from '../../../src/builds/build-artifact.js';
import { buildFacts, buildMetadata, headerSafe } from '../../../src/builds/build-metadata.js';
import { canonicalRequest } from '../../../src/builds/canonical-request.js';
import { parseBuildRequest } from '../../../src/builds/build-request-schema.js';
import { artifactKey } from '../../../src/storage/object-keys.js';
import { validRequest } from '../../fixtures/builds/requests.js';

describe('build artifacts', () => {
  it('live in the builds key space, apart from every negotiated artifact', () => {
    const key = 'a'.repeat(64);
    expect(artifactKey(buildArtifactRef('builds', key))).toBe(`builds/builds/${key}`);
    expect(() => buildArtifactRef('../x', key)).toThrow();
  });

  it('record who built them and for whom, header-safe, and read back as build facts', () => {
    const canonical = canonicalRequest(parseBuildRequest(validRequest({ race: true })));
    const meta = buildMetadata(canonical, {
      key: 'k',
      durationMs: 1234.4,
      builtBy: 'velocity-worker@host/1/abcd',
      requestedBy: 'repo:org/app:ref:refs/heads/main ✓ 100%\n',
      builder: 'command',
    });
    for (const value of Object.values(meta)) expect(value).toMatch(/^[\x20-\x7e]{0,1024}$/);
    expect(meta['requested-by']).toBe('repo:org/app:ref:refs/heads/main %E2%9C%93 100%25%0A');
    const facts = buildFacts({ size: 1, sha256: 'x', createdAt: '2026-01-01T00:00:00.000Z', meta });
    expect(facts).toEqual({
      built_at: '2026-01-01T00:00:00.000Z',
      built_by: 'velocity-worker@host/1/abcd',
      requested_by: meta['requested-by'],
      builder: 'command',
      rr_version: 'v2025.1.2',
      platform: 'linux/amd64',
      plugins: meta.plugins,
      race: true,
      duration_ms: 1234,
    });
  });

  it('cuts an identity at 256 characters', () => {
    expect(headerSafe('x'.repeat(1000))).toHaveLength(256);
  });
});
