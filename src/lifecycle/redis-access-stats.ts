import type { Redis } from 'ioredis';
import type { AccessBatch, AccessDelta } from './access-counter.js';
import type { AccessSnapshot, AccessStats } from './access-stats.js';

/** Ids per script call; a batch of any size still goes out in one pipeline (one round trip). */
const CHUNK = 5000;

/**
 * Counts add up (HINCRBY); the last access keeps the latest of every replica's (a replica whose
 * flush arrives late must not move it back). Both in one script per chunk.
 */
const FLUSH_SCRIPT = `
for i = 1, #ARGV, 3 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  if tonumber(ARGV[i + 2]) > cur then redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2]) end
end
return #ARGV / 3`;

/** Access statistics in two Redis hashes, `<prefix>:access:count` and `<prefix>:access:last`, keyed by object key. */
export class RedisAccessStats implements AccessStats {
  readonly kind = 'redis';
  private readonly counts: string;
  private readonly lasts: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.counts = `${prefix}:access:count`;
    this.lasts = `${prefix}:access:last`;
  }

  async flush(batch: AccessBatch): Promise<void> {
    if (batch.size === 0) return;
    const pipeline = this.redis.pipeline();
    let args: string[] = [];
    for (const [id, d] of batch) {
      args.push(id, String(d.count), String(d.last));
      if (args.length >= CHUNK * 3) {
        pipeline.eval(FLUSH_SCRIPT, 2, this.counts, this.lasts, ...args);
        args = [];
      }
    }
    if (args.length > 0) pipeline.eval(FLUSH_SCRIPT, 2, this.counts, this.lasts, ...args);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async load(): Promise<AccessSnapshot> {
    const [counts, lasts] = await Promise.all([this.redis.hgetall(this.counts), this.redis.hgetall(this.lasts)]);
    const entries = new Map<string, AccessDelta>();
    for (const [id, count] of Object.entries(counts)) entries.set(id, { count: Number(count), last: Number(lasts[id] ?? 0) });
    return { entries, sources: [] };
  }

  async settle(_snapshot: AccessSnapshot, deleted: readonly string[]): Promise<void> {
    for (let i = 0; i < deleted.length; i += CHUNK) {
      const ids = deleted.slice(i, i + CHUNK);
      await this.redis.pipeline().hdel(this.counts, ...ids).hdel(this.lasts, ...ids).exec();
    }
  }
}
