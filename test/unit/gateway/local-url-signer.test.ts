import { describe, expect, it } from '@jest/globals';
import { LocalUrlSigner, type ParamShape } from '../../../src/storage/local/local-url-signer.js';

const SHAPE: ParamShape = { required: [], optional: ['size', 'sha256'] };

describe('LocalUrlSigner', () => {
  let now = 1_700_000_000_000;
  const signer = new LocalUrlSigner(Buffer.from('k'.repeat(32)), () => 'http://gw', () => now);
  const parse = (url: string) => {
    const u = new URL(url);
    return { path: u.pathname.replace('/v1/local/', ''), query: u.searchParams };
  };

  it('accepts its own URL until it expires, with the signed parameters', () => {
    const { url } = signer.sign({ method: 'PUT', path: 'artifacts/ns/h', params: { size: '5', sha256: 'ab' } }, 60);
    const { path, query } = parse(url);
    expect(signer.verify('PUT', path, query, SHAPE)).toEqual({ ok: true, params: { size: '5', sha256: 'ab' } });
    now += 61_000;
    expect(signer.verify('PUT', path, query, SHAPE)).toEqual({ ok: false, reason: 'URL expired' });
  });

  it('is bound to its method, path and every parameter', () => {
    const { url } = signer.sign({ method: 'PUT', path: 'artifacts/ns/h', params: { size: '5' } }, 60);
    const { path, query } = parse(url);
    expect(signer.verify('GET', path, query, SHAPE).ok).toBe(false);
    expect(signer.verify('PUT', 'artifacts/ns/other', query, SHAPE).ok).toBe(false);
    const bigger = new URLSearchParams(query);
    bigger.set('size', '6');
    expect(signer.verify('PUT', path, bigger, SHAPE).ok).toBe(false);
    const later = new URLSearchParams(query);
    later.set('exp', String(Number(query.get('exp')) + 3600));
    expect(signer.verify('PUT', path, later, SHAPE).ok).toBe(false);
    const added = new URLSearchParams(query);
    added.set('sha256', 'ab');
    expect(signer.verify('PUT', path, added, SHAPE).ok).toBe(false);
    const unknown = new URLSearchParams(query);
    unknown.set('meta-x', '1');
    expect(signer.verify('PUT', path, unknown, SHAPE)).toEqual({ ok: false, reason: 'unexpected parameter meta-x' });
    const twice = new URLSearchParams(query);
    twice.append('size', '5');
    expect(signer.verify('PUT', path, twice, SHAPE)).toEqual({ ok: false, reason: 'parameter size appears more than once' });
    expect(signer.verify('PUT', path, query, { required: ['size', 'sha256'] })).toEqual({ ok: false, reason: 'missing parameter sha256' });
    const unsigned = new URLSearchParams(query);
    unsigned.delete('sig');
    expect(signer.verify('PUT', path, unsigned, SHAPE)).toEqual({ ok: false, reason: 'missing signature' });
  });

  it('rejects URLs signed with another secret', () => {
    const other = new LocalUrlSigner(Buffer.from('o'.repeat(32)), () => 'http://gw', () => now);
    const { url } = other.sign({ method: 'GET', path: 'artifacts/ns/h', params: {} }, 60);
    const { path, query } = parse(url);
    expect(signer.verify('GET', path, query, SHAPE).ok).toBe(false);
  });
});
