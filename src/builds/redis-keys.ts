/**
 * The Redis keys the build queue keeps beside BullMQ's own (`<prefix>:velocity-builds:*`).
 * One place builds them, like storage/object-keys.ts for the store.
 */
export const QUEUE_NAME = 'velocity-builds';

export interface BuildRedisKeys {
  /** Current generation of a build key (string integer). */
  generation(key: string): string;
  /** Waiters of a build: hash of caller -> count. */
  waiters(id: string): string;
  /** Final state of a build that left BullMQ without finishing there (cancelled, queue timeout). */
  tombstone(id: string): string;
  /** Sorted set of live workers, scored by heartbeat expiry (epoch ms). */
  readonly workers: string;
  /** Pub/sub channel: build ids to cancel, heard by every worker. */
  readonly cancelChannel: string;
}

export function buildRedisKeys(prefix: string): BuildRedisKeys {
  const base = `${prefix}:builds`;
  return {
    generation: (key) => `${base}:gen:${key}`,
    waiters: (id) => `${base}:waiters:${id}`,
    tombstone: (id) => `${base}:final:${id}`,
    workers: `${base}:workers`,
    cancelChannel: `${base}:cancel`,
  };
}

/** Compare-and-increment: a generation moves on once, however many replicas ask at once. */
export const BUMP_GENERATION_LUA = `
local cur = redis.call('GET', KEYS[1]) or '0'
if cur == ARGV[1] then
  redis.call('SET', KEYS[1], tostring(tonumber(cur) + 1))
  return 1
end
return 0`;

/** HINCRBY a caller, keep the hash bounded in time, return the total. */
export const ADD_WAITER_LUA = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return total`;

/** Decrement a caller (never below zero), return {removed, total}. */
export const REMOVE_WAITER_LUA = `
local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local removed = 0
if c > 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
  removed = 1
elseif c == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  removed = 1
end
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
return {removed, total}`;
