import { describe, expect, it } from '@jest/globals';
import { runDockerfileCheck } from './dockerfile-check.ts';

// The image cannot be built here (no Docker engine): scripts/check-dockerfile.mjs reproduces the
// Dockerfile's stages from its own COPY and RUN lines and starts the result (dockerfile.test.ts
// proves it fails on each defect the base commit's Dockerfile had).

describe('Dockerfile', () => {
  it('builds the real Dockerfile and starts a ready gateway from it', async () => {
    const r = await runDockerfileCheck(['--fast-npm-ci']);
    expect(r.stdout).toContain('Dockerfile check passed');
    expect(r.code).toBe(0);
  }, 120_000);
});
