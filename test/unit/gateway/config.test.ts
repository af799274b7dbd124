import { describe, expect, it } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/errors.js';

async function yamlFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vc-config-'));
  const file = join(dir, 'gateway.yml');
  await writeFile(file, text);
  return file;
}

async function problems(env: NodeJS.ProcessEnv, configFile?: string): Promise<readonly string[]> {
  try {
    await loadConfig({ env, configFile });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has sane defaults: local disk on port 8080, sha256 integrity, conditional writes', async () => {
    const c = await loadConfig({ env: {} });
    expect(c.port).toBe(8080);
    expect(c.storage.driver).toBe('local');
    expect(c.storage.s3.integrity).toBe('sha256');
    expect(c.storage.s3.conditionalWrites).toBe(true);
    expect(c.presignTtl).toBe(900);
    expect(c.auth.tokens).toEqual([]);
  });

  it('reads YAML and lets the environment win', async () => {
    const file = await yamlFile('port: 9000\nstorage:\n  driver: s3\n  s3:\n    bucket: from-yaml\n    region: eu-west-1\n');
    const c = await loadConfig({ env: { VC_S3_BUCKET: 'from-env', VC_AUTH_TOKEN: 'a, b ,c' }, configFile: file });
    expect(c.port).toBe(9000);
    expect(c.storage.driver).toBe('s3');
    expect(c.storage.s3.bucket).toBe('from-env');
    expect(c.storage.s3.region).toBe('eu-west-1');
    expect(c.auth.tokens).toEqual(['a', 'b', 'c']);
  });

  it('takes the file from VC_CONFIG too', async () => {
    const file = await yamlFile('presignTtl: 120\n');
    expect((await loadConfig({ env: { VC_CONFIG: file } })).presignTtl).toBe(120);
  });

  it('coerces environment strings', async () => {
    const c = await loadConfig({ env: { VC_PORT: '1234', VC_S3_FORCE_PATH_STYLE: 'true', VC_S3_CONDITIONAL_WRITES: '0' } });
    expect(c.port).toBe(1234);
    expect(c.storage.s3.forcePathStyle).toBe(true);
    expect(c.storage.s3.conditionalWrites).toBe(false);
  });

  it('lists every problem at once, with its path and variable', async () => {
    const p = await problems({
      VC_PORT: 'eighty',
      VC_STORAGE_DRIVER: 's3',
      VC_S3_INTEGRITY: 'crc32',
      VC_S3_ENDPOINT: 'not a url',
      VC_JWT_SECRET: 'short',
      VC_PRESIGN_TTL: '5',
      VC_TYPO_SETTING: 'x',
    });
    const text = p.join('\n');
    expect(text).toMatch(/^port \(VC_PORT\):/m);
    expect(text).toMatch(/^storage\.s3\.integrity \(VC_S3_INTEGRITY\):/m);
    expect(text).toMatch(/^storage\.s3\.endpoint \(VC_S3_ENDPOINT\):/m);
    expect(text).toMatch(/^auth\.jwtSecret \(VC_JWT_SECRET\): must be at least 32/m);
    expect(text).toMatch(/^presignTtl \(VC_PRESIGN_TTL\):/m);
    expect(text).toMatch(/^VC_TYPO_SETTING: unknown setting/m);
    expect(p.length).toBeGreaterThanOrEqual(6);
  });

  it('requires a bucket for the s3 driver', async () => {
    expect(await problems({ VC_STORAGE_DRIVER: 's3' })).toEqual([
      'storage.s3.bucket (VC_S3_BUCKET): required when storage.driver is s3',
    ]);
  });

  it('rejects unknown keys and bad YAML in the file', async () => {
    const p = await problems({}, await yamlFile('prot: 80\nstorage:\n  drvier: s3\n'));
    expect(p.join('\n')).toMatch(/prot/);
    expect(p.join('\n')).toMatch(/storage.*drvier/);
    expect((await problems({}, await yamlFile('port: [1'))).join('\n')).toMatch(/not valid YAML/);
    expect((await problems({}, '/nonexistent/gateway.yml')).join('\n')).toMatch(/ENOENT/);
  });

  it('reads JWT and connection limits as durations: 24h, 15m, 30s, 500ms or plain seconds', async () => {
    const d = await loadConfig({ env: {} });
    expect(d.auth).toMatchObject({ jwtMaxLifetime: 86_400, jwtClockSkew: 30 });
    expect(d.http).toEqual({
      headersTimeout: 10,
      bodyTimeout: 30,
      requestTimeout: 3600,
      uploadRateWindow: 30,
      uploadMinRate: 16_384,
      maxConnections: 4096,
      trustedProxies: [],
    });
    const c = await loadConfig({
      env: {
        VC_JWT_MAX_LIFETIME: '12h',
        VC_JWT_CLOCK_SKEW: '5s',
        VC_HEADERS_TIMEOUT: '500ms',
        VC_BODY_TIMEOUT: '2m',
        VC_REQUEST_TIMEOUT: '0',
        VC_UPLOAD_RATE_WINDOW: '15',
        VC_UPLOAD_MIN_RATE: '1024',
        VC_MAX_CONNECTIONS: '100',
      },
    });
    expect(c.auth).toMatchObject({ jwtMaxLifetime: 43_200, jwtClockSkew: 5 });
    expect(c.http).toEqual({
      headersTimeout: 0.5,
      bodyTimeout: 120,
      requestTimeout: 0,
      uploadRateWindow: 15,
      uploadMinRate: 1024,
      maxConnections: 100,
      trustedProxies: [],
    });
  });

  it('lists bad durations and limits with their variables', async () => {
    const text = (
      await problems({
        VC_JWT_MAX_LIFETIME: 'forever',
        VC_JWT_CLOCK_SKEW: '1h',
        VC_HEADERS_TIMEOUT: '2m',
        VC_REQUEST_TIMEOUT: '1m',
        VC_MAX_CONNECTIONS: '0',
      })
    ).join('\n');
    expect(text).toMatch(/^auth\.jwtMaxLifetime \(VC_JWT_MAX_LIFETIME\): must be a duration/m);
    expect(text).toMatch(/^auth\.jwtClockSkew \(VC_JWT_CLOCK_SKEW\): must be at most 600 seconds/m);
    expect(text).toMatch(/^http\.maxConnections \(VC_MAX_CONNECTIONS\):/m);
    // Node refuses a headers timeout longer than the request timeout.
    expect((await problems({ VC_HEADERS_TIMEOUT: '2m', VC_REQUEST_TIMEOUT: '1m' })).join('\n')).toMatch(
      /^http\.headersTimeout \(VC_HEADERS_TIMEOUT\): must not exceed http\.requestTimeout/m,
    );
  });
  it('reads sizes as operators write them: 64MiB, 10GiB, 5GB or plain bytes', async () => {
    const c = await loadConfig({
      env: { VC_MULTIPART_THRESHOLD: '64MiB', VC_MULTIPART_PART_SIZE: '8388608', VC_MAX_ARTIFACT_SIZE: '1.5 GiB', VC_UPLOAD_MIN_RATE: '16KiB' },
    });
    expect(c.cache.multipartThreshold).toBe(64 * 1024 ** 2);
    expect(c.cache.multipartPartSize).toBe(8 * 1024 ** 2);
    expect(c.cache.maxArtifactSize).toBe(1.5 * 1024 ** 3);
    expect(c.http.uploadMinRate).toBe(16 * 1024);
    const file = await yamlFile('cache:\n  maxArtifactSize: 5GB\n');
    expect((await loadConfig({ env: {}, configFile: file })).cache.maxArtifactSize).toBe(5e9);
    const listed = await problems({ VC_MULTIPART_PART_SIZE: '1MiB', VC_MAX_ARTIFACT_SIZE: 'ten gigs' });
    expect(listed.join('\n')).toMatch(/cache\.multipartPartSize.*VC_MULTIPART_PART_SIZE.*at least 5MiB/);
    expect(listed.join('\n')).toMatch(/cache\.maxArtifactSize.*VC_MAX_ARTIFACT_SIZE.*must be a size such as 64MiB/);
  });

  it('rejects URLs written without their scheme, naming each variable', async () => {
    const listed = await problems({
      VC_S3_ENDPOINT: 'minio:9000',
      VC_PUBLIC_URL: 'gateway.example.com',
      VC_JWKS_URL: 'ftp://issuer.example.com/jwks',
      VC_REDIS_URL: 'localhost:6379',
      VC_VELOX_URL: 'velox:9000',
      VC_S3_BUCKET: 'bkt',
    });
    const text = listed.join('\n');
    for (const name of ['VC_S3_ENDPOINT', 'VC_PUBLIC_URL', 'VC_JWKS_URL', 'VC_REDIS_URL', 'VC_VELOX_URL']) expect(text).toContain(name);
    expect(text).toMatch(/must be a URL starting with http:\/\/ or https:\/\//);
    expect(text).toMatch(/must be a URL starting with redis:\/\/ or rediss:\/\//);
    const ok = await loadConfig({ env: { VC_S3_ENDPOINT: 'http://minio:9000', VC_REDIS_URL: 'redis://redis:6379', VC_S3_BUCKET: 'bkt' } });
    expect(ok.storage.s3.endpoint).toBe('http://minio:9000');
    expect(ok.builds.redisUrl).toBe('redis://redis:6379');
  });
});
