import { describe, expect, it } from '@jest/globals';
import { KnownKeys } from '../../../src/cache/known-keys.js';
import type { ArtifactHandle, ArtifactRef, PresignFacet, PresignedRequest } from '../../../src/storage/driver.js';
import { StorageUnavailableError } from '../../../src/storage/errors.js';

const ref: ArtifactRef = { space: 'turbo', namespace: 'team', hash: 'abc123' };
const handle: ArtifactHandle = { ref, info: { size: 3, sha256: 'a'.repeat(64), createdAt: '2026-11-29T00:00:00.000Z' } };

function setup() {
  let clock = 1_000_000;
  const known = new KnownKeys({ max: 100, ttlMs: 60_000, now: () => clock });
  const heads: ArtifactRef[] = [];
  const head = (r: ArtifactRef) => {
    heads.push(r);
    return Promise.resolve(handle);
  };
  let signed = 0;
  const presign: PresignFacet = {
    download: (_h, ttl): Promise<PresignedRequest> => {
      signed++;
      return Promise.resolve({ url: `https://store/x?sig=${signed}`, method: 'GET', headers: {}, expiresAt: new Date(clock + ttl * 1000) });
    },
    upload: () => Promise.reject(new Error('not used')),
  };
  return { known, heads, head, presign, signed: () => signed, advance: (ms: number) => void (clock += ms) };
}

describe('KnownKeys: the L1 the native negotiation and the redirecting protocols share', () => {
  it('asks the store once per key within VC_KNOWN_KEYS_TTL, and again after it', async () => {
    const t = setup();
    expect((await t.known.lookup(ref, t.head))?.info).toEqual(handle.info);
    t.advance(59_999);
    await t.known.lookup(ref, t.head);
    expect(t.heads).toHaveLength(1);
    t.advance(1);
    await t.known.lookup(ref, t.head);
    expect(t.heads).toHaveLength(2);
  });

  it('never remembers a miss, and a store error is thrown, not a miss', async () => {
    const t = setup();
    let calls = 0;
    const missing = () => {
      calls++;
      return Promise.resolve(null);
    };
    expect(await t.known.lookup(ref, missing)).toBeNull();
    expect(await t.known.lookup(ref, missing)).toBeNull();
    expect(calls).toBe(2);
    const down = () => Promise.reject(new StorageUnavailableError('HEAD failed'));
    await expect(t.known.lookup(ref, down)).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('hands out the same download URL during the first half of its life, then signs a new one', async () => {
    const t = setup();
    const entry = (await t.known.lookup(ref, t.head))!;
    const first = await t.known.downloadUrl(entry, t.presign, 900);
    t.advance(450_000);
    expect(t.known.cachedDownload(entry, 900)).toBe(first);
    expect(await t.known.downloadUrl(entry, t.presign, 900)).toBe(first);
    t.advance(1);
    expect(t.known.cachedDownload(entry, 900)).toBeUndefined();
    const second = await t.known.downloadUrl(entry, t.presign, 900);
    expect(second.request.url).not.toBe(first.request.url);
    expect(t.signed()).toBe(2);
  });

  it('forgets a deleted key at once: the next lookup asks the store', async () => {
    const t = setup();
    await t.known.lookup(ref, t.head);
    t.known.forget(ref);
    await t.known.lookup(ref, t.head);
    expect(t.heads).toHaveLength(2);
  });
});
