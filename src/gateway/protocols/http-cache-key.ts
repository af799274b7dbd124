import { createHash } from 'node:crypto';
import { BadRequestError } from '../../errors.js';

/** What a key of the plain HTTP cache may be: `/`-separated segments of URL-safe characters. */
export const HTTP_KEY_LIMITS = { maxLength: 512, maxSegments: 8, maxSegmentLength: 160 } as const;
const SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * The store hash of a plain HTTP cache key. Clients name entries by paths (ccache's
 * `ab/cdef...`, its `ac/{sha256}` layout, Gradle's `{key}`), which the store's hash pattern does
 * not admit; the SHA-256 of the exact key (hex) does, and two different keys never share one.
 *
 * The key is taken from the raw request path, so `a%2Fb` and `a/b` are not two spellings of one
 * entry: a `%` is refused with every other character outside `[A-Za-z0-9._~-]`. Segments may not
 * be empty, `.` or `..`, and length and depth are bounded (400 `invalid_key` otherwise).
 */
export function httpCacheHash(rawKey: string): string {
  checkKey(rawKey);
  return createHash('sha256').update(rawKey, 'utf8').digest('hex');
}

function checkKey(key: string): void {
  const { maxLength, maxSegments, maxSegmentLength } = HTTP_KEY_LIMITS;
  if (key.length === 0) throw invalid('the key is empty');
  if (key.length > maxLength) throw invalid(`the key is longer than ${maxLength} characters`);
  const segments = key.split('/');
  if (segments.length > maxSegments) throw invalid(`the key has more than ${maxSegments} segments`);
  for (const s of segments) {
    if (s === '') throw invalid('the key has an empty segment');
    if (s === '.' || s === '..') throw invalid('the key has a . or .. segment');
    if (s.length > maxSegmentLength) throw invalid(`a key segment is longer than ${maxSegmentLength} characters`);
    if (!SEGMENT.test(s)) throw invalid('a key segment has characters outside [A-Za-z0-9._~-]');
  }
}

function invalid(why: string): BadRequestError {
  return new BadRequestError(`invalid cache key: ${why}`, 'invalid_key');
}
