import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { RecordsFacet } from '../storage/driver.js';
import type { LeaseHandle, LeaseProvider } from './lease.js';

const leaseSchema = z.object({ token: z.string(), expiresAt: z.number(), released: z.boolean().optional() });

/** Generations kept behind the newest, so a slow reader still finds what it listed. */
const KEEP = 3;

/**
 * A lease in the store, without Redis, built on one primitive every store has: create an object
 * only if it does not exist (`If-None-Match: *`; link(2) on local disk). The lease is a chain of
 * generations `<name>.<n>`, each holding `{token, expiresAt}`; the newest one is the lease.
 *
 * - Acquire: read the newest generation n; if it has not expired (or was released), create n+1
 *   with this holder's token. Of any number of replicas racing for n+1, the store lets one win.
 * - Then check that n+1 is still the newest: a replica that listed long ago and created a
 *   generation below the newest one (its view was stale) backs off.
 * - Renew: create n+2, and so on. A holder whose lease lapsed finds its next generation taken
 *   and stops (this is the compare: it can only extend the generation it holds).
 * - Release: create the next generation marked released. Old generations are deleted.
 */
export class StoreLeases implements LeaseProvider {
  readonly kind = 'store';

  constructor(
    private readonly records: RecordsFacet,
    private readonly now: () => number,
  ) {}

  async tryAcquire(name: string, ttlMs: number, signal?: AbortSignal): Promise<LeaseHandle | null> {
    const newest = await this.newest(name, signal);
    if (newest) {
      const current = await this.read(name, newest, signal);
      if (current && !current.released && current.expiresAt > this.now()) return null;
    }
    const token = randomBytes(12).toString('hex');
    let gen = (newest ?? 0) + 1;
    if (!(await this.create(name, gen, { token, expiresAt: this.now() + ttlMs }, signal))) return null;
    if ((await this.newest(name, signal)) !== gen) return null;
    await this.prune(name, gen, signal);
    return {
      token,
      renew: async (s) => {
        if (!(await this.create(name, gen + 1, { token, expiresAt: this.now() + ttlMs }, s))) return false;
        gen++;
        await this.prune(name, gen, s);
        return true;
      },
      release: async (s) => {
        if (await this.create(name, gen + 1, { token, expiresAt: 0, released: true }, s)) await this.prune(name, gen + 1, s);
      },
    };
  }

  private static recordName(name: string, gen: number): string {
    return `${name}.${String(gen).padStart(12, '0')}`;
  }

  private async newest(name: string, signal?: AbortSignal): Promise<number | undefined> {
    return (await this.generations(name, signal)).at(-1);
  }

  private async generations(name: string, signal?: AbortSignal): Promise<number[]> {
    const prefix = `${name}.`;
    return (await this.records.list('leases', signal))
      .filter((n) => n.startsWith(prefix) && /^\d{12}$/.test(n.slice(prefix.length)))
      .map((n) => Number(n.slice(prefix.length)))
      .sort((a, b) => a - b);
  }

  private async read(name: string, gen: number, signal?: AbortSignal): Promise<z.infer<typeof leaseSchema> | undefined> {
    const text = await this.records.read({ kind: 'leases', name: StoreLeases.recordName(name, gen) }, signal);
    if (text === null) return undefined;
    try {
      const parsed = leaseSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  private create(name: string, gen: number, body: z.infer<typeof leaseSchema>, signal?: AbortSignal): Promise<boolean> {
    return this.records.create({ kind: 'leases', name: StoreLeases.recordName(name, gen) }, JSON.stringify(body), signal);
  }

  private async prune(name: string, gen: number, signal?: AbortSignal): Promise<void> {
    const old = (await this.generations(name, signal)).filter((g) => g <= gen - KEEP);
    if (old.length > 0) await this.records.remove(old.map((g) => ({ kind: 'leases' as const, name: StoreLeases.recordName(name, g) })), signal);
  }
}
