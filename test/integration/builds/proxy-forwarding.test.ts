import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../../src/config/load-config.js';
import { ConfigError } from '../../../src/errors.js';
import { forwardedHeaders, trustedProxies } from '../../../src/gateway/proxy-forwarding.js';

/*
 * Who the client is, as proxy mode tells the upstream: only configured proxies vouch for what
 * came before them (no HTTP needed: the rule is a function of the peer and the headers).
 */
function req(peer: string, headers: Record<string, string> = {}): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers: { host: 'gw.example', ...headers } } as unknown as IncomingMessage;
}

describe('X-Forwarded-* with VC_TRUSTED_PROXIES', () => {
  const trusted = trustedProxies(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);

  it('matches addresses, ranges, IPv6 and IPv4-mapped peers', () => {
    expect(trusted.trusts('10.200.3.4')).toBe(true);
    expect(trusted.trusts('::ffff:10.1.2.3')).toBe(true);
    expect(trusted.trusts('192.0.2.7')).toBe(true);
    expect(trusted.trusts('192.0.2.8')).toBe(false);
    expect(trusted.trusts('2001:db8::1')).toBe(true);
    expect(trusted.trusts('11.0.0.1')).toBe(false);
    expect(trustedProxies([]).trusts('127.0.0.1')).toBe(false);
  });

  it('replaces what an untrusted peer claims', () => {
    const got = forwardedHeaders(req('203.0.113.9', { 'x-forwarded-for': '10.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil' }), trusted);
    expect(got).toEqual({
      client: '203.0.113.9',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'gw.example' },
    });
  });

  it('appends to a trusted proxy\'s chain, and names the first hop no trusted proxy vouches for', () => {
    // The client forged "1.1.1.1"; 198.51.100.2 reached our trusted proxies 10.0.0.5 and 192.0.2.7.
    const got = forwardedHeaders(req('192.0.2.7', { 'x-forwarded-for': '1.1.1.1, 198.51.100.2, 10.0.0.5', 'x-forwarded-proto': 'https' }), trusted);
    expect(got.client).toBe('198.51.100.2');
    expect(got.headers['x-forwarded-for']).toBe('1.1.1.1, 198.51.100.2, 10.0.0.5, 192.0.2.7');
    expect(got.headers['x-forwarded-proto']).toBe('https');
  });

  it('refuses entries that are not an address or range, naming each', async () => {
    const err = await loadConfig({ env: { VC_TRUSTED_PROXIES: '10.0.0.0/8, 10.0.0.0/33, proxy.example' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('http.trustedProxies.1: must be an IP address or a CIDR range');
    expect((err as Error).message).toContain('http.trustedProxies.2: must be an IP address or a CIDR range');
    expect((err as Error).message).not.toContain('trustedProxies.0');
    const ok = await loadConfig({ env: { VC_TRUSTED_PROXIES: '10.0.0.0/8, ::1' } });
    expect(ok.http.trustedProxies).toEqual(['10.0.0.0/8', '::1']);
  });
});
