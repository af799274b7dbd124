import { BlockList, isIP } from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** The proxies (`VC_TRUSTED_PROXIES`: addresses or CIDR ranges) whose `X-Forwarded-*` we believe. */
export interface TrustedProxies {
  readonly any: boolean;
  trusts(address: string | undefined): boolean;
}

/** Throws on an entry that is neither an IP address nor `address/prefix` (the config schema checks first). */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    if (family === 0) throw new Error(`not an IP address or CIDR range: ${entry}`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return {
    any: entries.length > 0,
    trusts(address) {
      if (!address || entries.length === 0) return false;
      const plain = unmapped(address);
      const family = isIP(plain);
      return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is checked as `10.0.0.1`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export interface Forwarded {
  /** The client as far as trusted hops vouch for it. */
  readonly client: string;
  readonly headers: Readonly<Record<'x-forwarded-for' | 'x-forwarded-proto' | 'x-forwarded-host', string>>;
}

/**
 * The `X-Forwarded-*` headers sent upstream. The peer is always appended to `X-Forwarded-For`;
 * what came before it is kept only when the peer is a configured proxy, otherwise any client could
 * name itself anybody (Koa's `proxy: true` forwarded the client's own header as it was). The client
 * is the rightmost address not vouched for by a trusted hop, as nginx's realip module walks it.
 */
export function forwardedHeaders(req: IncomingMessage, trusted: TrustedProxies): Forwarded {
  const peer = unmapped(req.socket.remoteAddress ?? '');
  const own = { proto: (req.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http', host: single(req.headers.host) ?? '' };
  if (!trusted.trusts(peer)) {
    return { client: peer, headers: { 'x-forwarded-for': peer, 'x-forwarded-proto': own.proto, 'x-forwarded-host': own.host } };
  }
  const chain = (joined(req.headers['x-forwarded-for']) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  let client = peer;
  for (let i = chain.length - 1; i >= 0 && trusted.trusts(client); i--) client = unmapped(chain[i] as string);
  return {
    client,
    headers: {
      'x-forwarded-for': [...chain, peer].join(', '),
      'x-forwarded-proto': firstValue(req.headers, 'x-forwarded-proto') ?? own.proto,
      'x-forwarded-host': firstValue(req.headers, 'x-forwarded-host') ?? own.host,
    },
  };
}

/** Sets the forwarded headers on the request that goes upstream, and drops what only a trusted hop may say. */
export function applyForwarded(req: IncomingMessage, trusted: TrustedProxies): Forwarded {
  const forwarded = forwardedHeaders(req, trusted);
  if (!trusted.trusts(req.socket.remoteAddress)) delete req.headers.forwarded;
  Object.assign(req.headers, forwarded.headers);
  return forwarded;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function firstValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = joined(headers[name]);
  const first = value?.split(',')[0]?.trim();
  return first ? first : undefined;
}
