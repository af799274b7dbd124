import { Redis, type RedisOptions } from 'ioredis';

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

export function connectRedis(url: string, role: RedisRole, timeoutMs: number): Redis {
  return new Redis(url, redisOptions(role, timeoutMs));
}
