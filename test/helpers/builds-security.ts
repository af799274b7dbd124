import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { serviceDir, startRedis, stopRedis } from '../setup/services.js';

/** An HS256 JWT with the claims given, a subject, and a 10-minute lifetime. */
export async function signJwt(secret: string, subject: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(Buffer.from(secret));
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of the test's own (the suite's shared one is never stopped), which the test can
 * stop, restart, pause (SIGSTOP: connections stay open, nothing answers) and resume.
 */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export async function startOwnRedis(name: string): Promise<OwnRedis> {
  const port = await freePort();
  const service = `${process.env.VC_TEST_RUN ?? 'run'}/${name}-${port}`;
  const url = await startRedis(service, port);
  const pid = async () => Number((await readFile(join(serviceDir(service), 'redis.pid'), 'utf8')).trim());
  return {
    url,
    port,
    stop: () => stopRedis(port),
    start: async () => {
      await startRedis(service, port);
    },
    pause: async () => {
      process.kill(await pid(), 'SIGSTOP');
    },
    resume: async () => {
      process.kill(await pid(), 'SIGCONT');
    },
  };
}
