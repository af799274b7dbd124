import { describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { GOOD_DOCKERFILE, miniContext, runDockerfileCheck } from './dockerfile-check.ts';

// The image cannot be built here (no Docker engine), so scripts/check-dockerfile.mjs reproduces the
// Dockerfile's stages from its own COPY and RUN lines and starts the result. These tests run it on
// small contexts with each defect the base commit's Dockerfile had (missing COPY of scripts/, an
// unwritable data folder, a liveness HEALTHCHECK, Node 20), to prove the check fails on them; a
// passing twin shows the failures come from the defects. dockerfile-real.test.ts runs it on ours.

describe('Dockerfile reproduction on broken inputs', () => {
  async function check(dockerfile: string, dockerignore = ''): Promise<{ code: number | null; stdout: string }> {
    const dir = miniContext(dockerfile, dockerignore);
    try {
      return await runDockerfileCheck(['--context', dir, '--dockerfile', `${dir}/Dockerfile`], dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('passes a small context built the same way (so the failures below are the defects)', async () => {
    const r = await check(GOOD_DOCKERFILE);
    expect(r.stdout).toContain('Dockerfile check passed');
    expect(r.code).toBe(0);
  }, 60_000);

  it.each([
    ['a RUN line needs a file no COPY brought (scripts/)', GOOD_DOCKERFILE.replace('COPY scripts ./scripts\n', ''), '', /Cannot find module .*scripts\/build\.mjs/],
    ['.dockerignore keeps a copied folder out of the context', GOOD_DOCKERFILE, 'scripts\n', /COPY scripts: excluded by \.dockerignore/],
    ['the data folder is not given to the non-root user (EACCES)', GOOD_DOCKERFILE.replace(' && chown node:node data', ''), '', /not created and given to USER node/],
    ['the HEALTHCHECK probes liveness', GOOD_DOCKERFILE.replace("'/readyz'", "'/healthz'"), '', /HEALTHCHECK passes while \/readyz is 503/],
    ['the image runs as root', GOOD_DOCKERFILE.replace('USER node\n', ''), '', /runs as root/],
    ['Node 20 base', GOOD_DOCKERFILE.replaceAll('node:24-bookworm-slim', 'node:20-bookworm-slim'), '', /not a maintained Node LTS/],
    ['an unpinned base', GOOD_DOCKERFILE.replace('node:24-bookworm-slim AS build', 'node AS build'), '', /not pinned to a tag/],
    ['an instruction the reproduction cannot follow', GOOD_DOCKERFILE.replace('COPY scripts ./scripts', 'ADD scripts ./scripts'), '', /ADD is not supported/],
  ])('fails when %s', async (_name, dockerfile, dockerignore, message) => {
    const r = await check(dockerfile, dockerignore);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(message);
  }, 60_000);
});
