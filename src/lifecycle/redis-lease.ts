import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LeaseHandle, LeaseProvider } from './lease.js';

/**
 * The value is `<expiresAt ms>:<token>`. Taking the lease succeeds when the key is absent or its
 * expiry (by the caller's clock) has passed; renewing and releasing compare the token first, all
 * inside one script, so no holder can extend or delete another's lease. `SET ... PX` keeps Redis
 * itself from holding a dead lease for ever as well.
 */
const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v then
  local exp = tonumber(string.match(v, '^(%d+):'))
  if exp and exp > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`;

const RENEW = `
local v = redis.call('GET', KEYS[1])
if not v or string.match(v, ':(.*)$') ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`;

const RELEASE = `
local v = redis.call('GET', KEYS[1])
if v and string.match(v, ':(.*)$') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export class RedisLeases implements LeaseProvider {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number,
  ) {}

  async tryAcquire(name: string, ttlMs: number): Promise<LeaseHandle | null> {
    const key = `${this.prefix}:lease:${name}`;
    const token = randomBytes(12).toString('hex');
    const value = (): string => `${this.now() + ttlMs}:${token}`;
    const took = await this.redis.eval(ACQUIRE, 1, key, value(), String(this.now()), String(ttlMs));
    if (took !== 1) return null;
    return {
      token,
      renew: async () => (await this.redis.eval(RENEW, 1, key, value(), token, String(ttlMs))) === 1,
      release: async () => {
        await this.redis.eval(RELEASE, 1, key, token);
      },
    };
  }
}
