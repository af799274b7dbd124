import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';

const require = createRequire(import.meta.url);

/**
 * ioredis, loaded on the first connection: a gateway without Redis (the embedded default) never
 * loads it. It is a CommonJS package, so it loads synchronously where a connection is made.
 */
function ioredis(): typeof import('ioredis') {
  return require('ioredis') as typeof import('ioredis');
}

/**
 * What a connection is for. `commands`: the gateway's reads and writes (BullMQ Queue, waiters,
 * generations, heartbeats), which must fail fast during an outage. `blocking`: BullMQ Worker and
 * QueueEvents (blocking reads) and the cancel subscriber, which must wait and resume on their own.
 */
export type RedisRole = 'commands' | 'blocking';

/** Reconnect quickly once Redis is back: 50 ms, 100 ms, ... never more than a second apart. */
function reconnectDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 5), 1000);
}

/**
 * ioredis options per role, following BullMQ's connection rules: a Worker's connection needs
 * `maxRetriesPerRequest: null` and its offline queue (it retries for ever and resumes), while a
 * Queue's may, and here does, fail fast. Without these bounds a request to a dead Redis waited
 * for the reconnect loop (about 43 s) instead of answering 503.
 */
export function redisOptions(role: RedisRole, timeoutMs: number): RedisOptions {
  const common: RedisOptions = {
    connectTimeout: timeoutMs,
    retryStrategy: reconnectDelay,
  };
  if (role === 'blocking') return { ...common, maxRetriesPerRequest: null };
  return {
    ...common,
    // While disconnected, a command is refused at once instead of queued until Redis returns.
    enableOfflineQueue: false,
    // A command sent to a Redis that stopped answering (a partition, a paused process) times out.
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
  };
}

/** A connection for `role`; `overrides` adjust the role's options (e.g. the lifecycle's offline queue). */
export function connectRedis(url: string, role: RedisRole, timeoutMs: number, overrides: RedisOptions = {}): Redis {
  const { Redis: RedisClient } = ioredis();
  return new RedisClient(url, { ...redisOptions(role, timeoutMs), ...overrides });
}

/** Resolves once `redis` is ready; rejects when it ends, errors while connecting, or `signal` aborts. */
export function untilReady(redis: Redis, signal?: AbortSignal): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  if (redis.status === 'end') return Promise.reject(new Error('redis connection closed'));
  // Reconnecting after a failure: Redis is down now; say so instead of waiting for it.
  if (redis.status === 'reconnecting') return Promise.reject(new Error('redis unreachable (reconnecting)'));
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      redis.off('ready', onReady);
      redis.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onError = (err: Error) => done(err);
    const onAbort = () => done(new Error('redis not ready in time'));
    if (signal?.aborted) return onAbort();
    redis.once('ready', onReady);
    redis.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
