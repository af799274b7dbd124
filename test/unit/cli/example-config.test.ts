import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProjectConfig } from '../../../src/cli/config/parse.js';

describe('velocity.yml.example', () => {
  it('is a valid velocity.yml documenting every field', () => {
    const text = readFileSync(join(import.meta.dirname, '../../../velocity.yml.example'), 'utf8');
    const { config, remote, remoteVariables } = parseProjectConfig(text, 'velocity.yml.example', { VELOCITY_REMOTE_URL: 'https://cache.example', VELOCITY_TOKEN: 't' });
    expect(config.pass_through_env).toEqual(['NPM_TOKEN', 'GITHUB_*']);
    expect(config.pipeline.build?.pass_through_env).toEqual(['SENTRY_AUTH_TOKEN']);
    expect(remote).toMatchObject({ enabled: true, transfer: { idle_timeout_ms: 30000, min_bytes_per_second: 1024, window_ms: 30000 } });
    expect([...remoteVariables].sort()).toEqual(['VELOCITY_NAMESPACE', 'VELOCITY_REMOTE_URL', 'VELOCITY_TOKEN']);
  });
});
