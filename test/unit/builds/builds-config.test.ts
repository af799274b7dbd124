import { describe, expect, it } from '@jest/globals';
import { builderKind, runsInProcessWorker } from '../../../src/builds/config.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/errors.js';

describe('builds configuration', () => {
  it('maps the VC_ environment to builds.*', async () => {
    const config = await loadConfig({
      env: {
        VC_REDIS_URL: 'redis://127.0.0.1:6379',
        VC_VELOX_URL: 'http://velox:9000',
        VC_BUILD_MAX_QUEUE: '5',
        VC_BUILD_QUEUE_TIMEOUT: '30',
        VC_BUILD_MAX_ATTEMPTS: '4',
        VC_BUILD_INITIAL_DELAY: '250',
        VC_BUILD_MAX_DELAY: '5000',
        VC_BUILD_BACKOFF_MULTIPLIER: '1.5',
        VC_BUILD_TIMEOUT: '120',
        VC_BUILD_REQUEST_TIMEOUT: '60',
        VC_BUILD_IN_PROCESS_WORKER: 'yes',
        VC_UPSTREAM_URL: 'http://php:8080',
      },
    });
    expect(config.builds).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      veloxUrl: 'http://velox:9000',
      maxQueue: 5,
      queueTimeout: 30,
      maxAttempts: 4,
      initialDelay: 250,
      maxDelay: 5000,
      backoffMultiplier: 1.5,
      buildTimeout: 120,
      requestTimeout: 60,
      inProcessWorker: true,
      upstreamUrl: 'http://php:8080',
      namespace: 'builds',
    });
    expect(builderKind(config.builds)).toBe('velox');
    expect(runsInProcessWorker(config.builds)).toBe(true);
  });

  it('defaults to the embedded setup: in-process worker without Redis, none with it', async () => {
    const embedded = await loadConfig({ env: { VC_BUILD_COMMAND: 'make rr' } });
    expect(builderKind(embedded.builds)).toBe('command');
    expect(runsInProcessWorker(embedded.builds)).toBe(true);
    const replicated = await loadConfig({ env: { VC_REDIS_URL: 'redis://r:6379' } });
    expect(builderKind(replicated.builds)).toBe('none');
    expect(runsInProcessWorker(replicated.builds)).toBe(false);
  });

  it('reads the Velox busy wait and the default platform, refusing a platform no request accepts', async () => {
    const config = await loadConfig({ env: { VC_VELOX_BUSY_WAIT: '90', VC_BUILD_DEFAULT_PLATFORM: 'darwin/arm64' } });
    expect(config.builds).toMatchObject({ veloxBusyWait: 90, defaultPlatform: 'darwin/arm64' });
    expect((await loadConfig({ env: {} })).builds).toMatchObject({ veloxBusyWait: 0, defaultPlatform: 'linux/amd64' });
    for (const bad of ['beos/amd64', 'linux', 'linux/amd64/v3']) {
      const err = (await loadConfig({ env: { VC_BUILD_DEFAULT_PLATFORM: bad } }).catch((e: unknown) => e)) as ConfigError;
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.problems.join('\n')).toContain('builds.defaultPlatform (VC_BUILD_DEFAULT_PLATFORM)');
    }
  });

  it('lists every bad build setting with its variable', async () => {
    const err = (await loadConfig({
      env: { VC_BUILD_CONCURRENCY: '0', VC_REDIS_URL: 'not a url', VC_BUILD_BACKOFF_MULTIPLIER: 'fast' },
    }).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems.join('\n')).toContain('builds.concurrency (VC_BUILD_CONCURRENCY)');
    expect(err.problems.join('\n')).toContain('builds.redisUrl (VC_REDIS_URL)');
    expect(err.problems.join('\n')).toContain('builds.backoffMultiplier (VC_BUILD_BACKOFF_MULTIPLIER)');
  });
});
