import { describe, expect, it } from '@jest/globals';
import { httpCacheHash, HTTP_KEY_LIMITS } from '../../src/gateway/protocols/http-cache-key.js';
import { HASH_PATTERN } from '../../src/storage/object-keys.js';

describe('plain HTTP cache keys', () => {
  it("maps each client's key layout to a store hash, different keys to different hashes", () => {
    const keys = [
      'ab/cdefghijklmnopqrstuvwxyz0123456789', // ccache subdirs
      'abcdefghijklmnopqrstuvwxyz0123456789', // ccache flat
      `ac/${'0123456789abcdef'.repeat(4)}`, // ccache bazel layout
      'cache/9f86d081884c7d659a2feaa0c55ad015', // Gradle under a path
      'AB/cdefghijklmnopqrstuvwxyz0123456789', // case matters
      'a.b_c~d-e',
    ];
    const hashes = keys.map(httpCacheHash);
    for (const h of hashes) expect(h).toMatch(HASH_PATTERN);
    expect(new Set(hashes).size).toBe(keys.length);
    expect(httpCacheHash(keys[0] as string)).toBe(hashes[0]);
  });

  it('refuses traversal, empty segments, odd characters, encodings and over-long keys', () => {
    const { maxLength, maxSegments, maxSegmentLength } = HTTP_KEY_LIMITS;
    const bad = [
      '',
      '..',
      '../x',
      'a/../../x',
      'a/./b',
      '.',
      'a//b',
      '/a',
      'a/',
      'a%2Fb',
      '..%2Fx',
      'a b',
      'a\\b',
      'a\u0000b',
      'é',
      'x'.repeat(maxSegmentLength + 1),
      Array.from({ length: maxSegments + 1 }, () => 'a').join('/'),
      Array.from({ length: 5 }, () => 'y'.repeat(maxSegmentLength)).join('/').slice(0, maxLength + 1),
    ];
    for (const key of bad) {
      let thrown: unknown;
      try {
        httpCacheHash(key);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toMatchObject({ status: 400, code: 'invalid_key' });
    }
    expect(() => httpCacheHash('x'.repeat(maxSegmentLength))).not.toThrow();
  });
});
