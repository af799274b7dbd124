import { describe, expect, it } from '@jest/globals';
import { parseRange } from '../../../src/gateway/range.js';

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=50-500', 100, { start: 50, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
  ])('%s of %d bytes', (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });

  it.each([
    ['bytes=100-', 100],
    ['bytes=5-2', 100],
    ['bytes=-0', 100],
    ['bytes=0-0', 0],
  ])('%s of %d bytes is unsatisfiable', (header, size) => {
    expect(parseRange(header, size)).toBe('unsatisfiable');
  });

  it.each([undefined, 'items=0-1', 'bytes=0-1,5-6', 'bytes=-', 'bytes=a-b'])('serves the whole body for %s', (header) => {
    expect(parseRange(header, 100)).toBeUndefined();
  });
});
