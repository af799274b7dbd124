import { describe, expect, it } from '@jest/globals';
import { S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import type { AwsCredentialIdentity } from '@smithy/types';
import { StorageUnavailableError } from '../../../src/storage/errors.js';
import { S3UrlSigner, type S3Location, type SignOptions } from '../../../src/storage/s3/s3-url-signer.js';

const AT = new Date('2026-11-22T07:38:56.123Z');
const KEYS: AwsCredentialIdentity = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const PATH_STYLE: S3Location = { protocol: 'http:', hostname: '127.0.0.1', port: 7480, basePath: '/bucket' };
const VIRTUAL_HOST: S3Location = { protocol: 'https:', hostname: 'bucket.s3.eu-west-1.amazonaws.com', basePath: '' };

/** The SDK's own presigner on the same request: the reference our URLs must match. */
async function sdkUrl(location: S3Location, region: string, creds: AwsCredentialIdentity, opts: SignOptions, at = AT): Promise<string> {
  const presigner = new S3RequestPresigner({ credentials: creds, region, sha256: new S3Client({ region }).config.sha256 });
  const host = location.port === undefined ? location.hostname : `${location.hostname}:${location.port}`;
  const headers: Record<string, string> = { host };
  for (const [name, value] of Object.entries(opts.headers ?? {})) headers[name.toLowerCase()] = value;
  const signed = await presigner.presign(
    {
      protocol: location.protocol, hostname: location.hostname, port: location.port, method: opts.method,
      path: `${location.basePath}/${opts.key.split('/').map(encodeURIComponent).join('/')}`,
      query: { ...opts.query }, headers,
    },
    { expiresIn: opts.ttlSeconds, signingDate: at, unhoistableHeaders: new Set(Object.keys(headers).filter((h) => h !== 'host')) },
  );
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  return `${location.protocol}//${host}${signed.path}?${query}`;
}

/** Same URL up to the order of its query parameters. */
function normalised(url: string): { base: string; query: [string, string][] } {
  const u = new URL(url);
  return { base: `${u.origin}${u.pathname}`, query: [...u.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : 1)) };
}

describe('S3UrlSigner', () => {
  const cases: [string, S3Location, string, AwsCredentialIdentity, SignOptions][] = [
    ['a store HEAD (path-style, port)', PATH_STYLE, 'us-east-1', KEYS, { method: 'HEAD', key: 'artifacts/default/abc_DEF-123', ttlSeconds: 60 }],
    ['a download (virtual-hosted, https, other region)', VIRTUAL_HOST, 'eu-west-1', KEYS, { method: 'GET', key: 'artifacts/team-a/h', ttlSeconds: 900 }],
    ['an upload bound to length, If-None-Match and Content-MD5', PATH_STYLE, 'us-east-1', KEYS, {
      method: 'PUT', key: 'artifacts/default/h1', ttlSeconds: 900,
      headers: { 'Content-Length': '1024', 'If-None-Match': '*', 'Content-MD5': 'kAFQmDzST7DWlj99KOF/cg==' },
      query: { 'x-amz-meta-sha256': 'a'.repeat(64) },
    }],
    ['an upload bound to x-amz-checksum-sha256', VIRTUAL_HOST, 'eu-west-1', KEYS, {
      method: 'PUT', key: 'artifacts/default/h2', ttlSeconds: 3600,
      headers: { 'Content-Length': '5', 'If-None-Match': '*', 'x-amz-checksum-sha256': 'LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=' },
      query: { 'x-amz-meta-sha256': 'b'.repeat(64) },
    }],
    ['a part upload whose upload id needs escaping', PATH_STYLE, 'us-east-1', KEYS, {
      method: 'PUT', key: 'uploads/default/h3/blob', ttlSeconds: 900,
      headers: { 'Content-Length': '5242880', 'Content-MD5': 'kAFQmDzST7DWlj99KOF/cg==' },
      query: { partNumber: '7', uploadId: '2~Ab+cd/ef=gh' },
    }],
    ['metadata values with spaces, plus signs, ampersands and non-ASCII', PATH_STYLE, 'us-east-1', KEYS, {
      method: 'PUT', key: 'artifacts/default/h4', ttlSeconds: 900,
      headers: { 'Content-Length': '1' },
      query: { 'x-amz-meta-note': "a b+c&d=e/f 'ü' (x)*!", 'x-amz-meta-empty': '' },
    }],
    ['temporary credentials (session token)', PATH_STYLE, 'us-east-1', { ...KEYS, sessionToken: 'FQoGZXIvYXdzE+token/with=chars' }, {
      method: 'GET', key: 'artifacts/default/h5', ttlSeconds: 604800,
    }],
  ];

  it.each(cases)('signs %s exactly as the AWS SDK does', async (_name, location, region, creds, opts) => {
    const signer = new S3UrlSigner(location, { credentials: () => Promise.resolve(creds), region, now: () => AT.getTime() });
    const ours = await signer.sign(opts);
    const reference = await sdkUrl(location, region, creds, opts);
    expect(normalised(ours)).toEqual(normalised(reference));
    expect(new URL(ours).searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('derives a new signing key when the day or the credentials change (rotation, refreshed roles)', async () => {
    const rotated: AwsCredentialIdentity = { accessKeyId: 'AKIDROTATED', secretAccessKey: 'another/secret+value' };
    const nextDay = new Date(AT.getTime() + 24 * 3600 * 1000);
    let clock = AT.getTime();
    let creds = KEYS;
    const signer = new S3UrlSigner(PATH_STYLE, { credentials: () => Promise.resolve(creds), region: 'us-east-1', now: () => clock });
    const opts: SignOptions = { method: 'HEAD', key: 'artifacts/default/k', ttlSeconds: 60 };
    const seen: string[] = [];
    for (const [at, c] of [[AT, KEYS], [nextDay, KEYS], [nextDay, rotated], [AT, rotated]] as const) {
      clock = at.getTime();
      creds = c;
      const ours = await signer.sign(opts);
      const reference = await sdkUrl(PATH_STYLE, 'us-east-1', c, { ...opts, now: at }, at);
      expect(normalised(ours)).toEqual(normalised(reference));
      seen.push(new URL(ours).searchParams.get('X-Amz-Signature') ?? '');
    }
    expect(new Set(seen).size).toBe(4);
  });

  it('gives the gateway path and query for its own calls, the same signature as the full URL', async () => {
    const signer = new S3UrlSigner(PATH_STYLE, { credentials: () => Promise.resolve(KEYS), region: 'us-east-1', now: () => AT.getTime() });
    const opts: SignOptions = { method: 'HEAD', key: 'artifacts/default/x', ttlSeconds: 60 };
    const path = await signer.signPath(opts);
    expect(path.startsWith('/bucket/artifacts/default/x?')).toBe(true);
    expect(`http://127.0.0.1:7480${path}`).toBe(await signer.sign(opts));
  });

  it('changes the signature with anything signed: method, key, a header or the clock', async () => {
    const at = (ms: number) => new S3UrlSigner(PATH_STYLE, { credentials: () => Promise.resolve(KEYS), region: 'us-east-1', now: () => ms });
    const sig = async (s: S3UrlSigner, o: SignOptions) => new URL(await s.sign(o)).searchParams.get('X-Amz-Signature');
    const base: SignOptions = { method: 'PUT', key: 'artifacts/default/x', ttlSeconds: 60, headers: { 'Content-Length': '10' } };
    const first = await sig(at(AT.getTime()), base);
    const others = await Promise.all([
      sig(at(AT.getTime()), { ...base, method: 'GET' }),
      sig(at(AT.getTime()), { ...base, key: 'artifacts/default/y' }),
      sig(at(AT.getTime()), { ...base, headers: { 'Content-Length': '11' } }),
      sig(at(AT.getTime() + 1000), base),
    ]);
    expect(new Set([first, ...others]).size).toBe(5);
  });

  it('refuses lifetimes SigV4 cannot carry', async () => {
    const signer = new S3UrlSigner(PATH_STYLE, { credentials: () => Promise.resolve(KEYS), region: 'us-east-1' });
    for (const ttlSeconds of [0, -1, 604801, Number.NaN]) {
      await expect(signer.sign({ method: 'GET', key: 'k', ttlSeconds })).rejects.toThrow(RangeError);
    }
  });

  it('reports credentials that cannot be loaded as the store being unavailable', async () => {
    const signer = new S3UrlSigner(PATH_STYLE, { credentials: () => Promise.reject(new Error('Could not load credentials from any providers')), region: 'us-east-1' });
    const err = await signer.sign({ method: 'HEAD', key: 'k', ttlSeconds: 60 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).message).toMatch(/cannot sign store requests: Could not load credentials.*AWS_ACCESS_KEY_ID/);
  });
});
