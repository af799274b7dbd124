import { describe, expect, it } from '@jest/globals';
import { SAFE_BUILD_ENV, buildCommandEnv } from '../../../src/builds/builders/command-env.js';
import { buildsConfigSchema } from '../../../src/builds/config.js';

const inputs = { output: '/w/b/binary', workDir: '/w/b', key: 'k'.repeat(64), rrVersion: 'v2025.1.2', os: 'linux', arch: 'arm64' };

describe('build command environment', () => {
  it('passes the safe set and declared names only, and the build inputs win', () => {
    const source = {
      PATH: '/usr/bin',
      HOME: '/home/w',
      VC_AUTH_TOKEN: 'secret',
      AWS_SECRET_ACCESS_KEY: 'secret',
      GOPROXY: 'https://proxy',
      VELOCITY_OUTPUT: '/elsewhere',
      UNSET_DECLARED: undefined,
    };
    const env = buildCommandEnv(source, ['GOPROXY', 'VELOCITY_OUTPUT', 'UNSET_DECLARED'], inputs);
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/w',
      GOPROXY: 'https://proxy',
      VELOCITY_OUTPUT: '/w/b/binary',
      VELOCITY_WORK_DIR: '/w/b',
      VELOCITY_BUILD_KEY: inputs.key,
      VELOCITY_RR_VERSION: 'v2025.1.2',
      VELOCITY_TARGET_OS: 'linux',
      VELOCITY_TARGET_ARCH: 'arm64',
    });
  });

  it('has no secret-bearing name in the safe set', () => {
    expect(SAFE_BUILD_ENV.filter((n) => /TOKEN|SECRET|KEY|PASS|AWS|VC_/.test(n))).toEqual([]);
  });

  it('VC_BUILD_ENV takes a comma-separated list and refuses VC_* and malformed names', () => {
    expect(buildsConfigSchema.parse({ env: 'GOPROXY, GOFLAGS' }).env).toEqual(['GOPROXY', 'GOFLAGS']);
    expect(buildsConfigSchema.parse({}).env).toEqual([]);
    const refused = buildsConfigSchema.safeParse({ env: 'VC_AUTH_TOKEN,vc_jwt_secret,1BAD,A=B' });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => i.path.join('.'))).toEqual(['env.0', 'env.1', 'env.2', 'env.3']);
  });
});
