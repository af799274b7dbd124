import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type FaultMode = { readonly kind: 'pass' } | { readonly kind: 'down' } | { readonly kind: 'slow'; readonly delayMs: number };

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give it to the gateway as its store endpoint. */
  readonly url: string;
  set(mode: FaultMode): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of the suite's Ceph RGW that can fail like a network does: `down` resets
 * every connection (open ones too), `slow` holds each chunk from the client back for a while. A
 * store outage of a few seconds without stopping the store the other suites share. The bytes pass
 * unchanged, so signatures (which name this proxy's host) still verify.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  let mode: FaultMode = { kind: 'pass' };
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (mode.kind === 'down') {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: hostname, port: Number(port) });
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      const current = mode;
      if (current.kind === 'slow') {
        client.pause();
        setTimeout(() => {
          upstream.write(chunk);
          client.resume();
        }, current.delayMs);
      } else {
        upstream.write(chunk);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    set(next) {
      mode = next;
      if (next.kind === 'down') for (const s of open) s.resetAndDestroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
