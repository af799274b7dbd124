import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { RecordsFacet } from '../storage/driver.js';
import type { AccessBatch, AccessDelta } from './access-counter.js';
import { mergeDelta, type AccessSnapshot, type AccessStats } from './access-stats.js';

const documentSchema = z.object({
  /** Documents this one was merged from: they are ignored if still present (a merge that died half-way). */
  sources: z.array(z.string()).default([]),
  entries: z.array(z.tuple([z.string(), z.number().int().nonnegative(), z.number().nonnegative()])),
});

/**
 * Access statistics in the store, without Redis. Every flush of every replica writes one small
 * document (`system/access/f-<time>-<replica>-<seq>`), never touching another's, so no write ever
 * races. The eviction pass (one replica, under the lease) reads them all, adds them up, and
 * replaces them by one merged document naming its sources, so the count of documents stays small.
 * A merge that dies after writing its document but before deleting the sources double counts
 * nothing: sources a merged document names are skipped.
 */
export class StoreAccessStats implements AccessStats {
  readonly kind = 'store';
  private readonly replica = randomBytes(4).toString('hex');
  private seq = 0;

  constructor(
    private readonly records: RecordsFacet,
    private readonly now: () => number,
  ) {}

  async flush(batch: AccessBatch, signal?: AbortSignal): Promise<void> {
    if (batch.size === 0) return;
    const entries = [...batch].map(([id, d]) => [id, d.count, d.last] as const);
    const name = `f-${this.now().toString().padStart(15, '0')}-${this.replica}-${this.seq++}`;
    await this.records.create({ kind: 'access', name }, JSON.stringify({ entries }), signal);
  }

  async load(signal?: AbortSignal): Promise<AccessSnapshot> {
    const names = await this.records.list('access', signal);
    const docs = new Map<string, z.infer<typeof documentSchema>>();
    for (const name of names) {
      const text = await this.records.read({ kind: 'access', name }, signal);
      if (text === null) continue;
      const parsed = documentSchema.safeParse(safeJson(text));
      // A document that is not ours is left alone and ignored.
      if (parsed.success) docs.set(name, parsed.data);
    }
    const merged = new Set<string>();
    for (const doc of docs.values()) for (const s of doc.sources) merged.add(s);
    const entries = new Map<string, AccessDelta>();
    const sources: string[] = [];
    for (const [name, doc] of docs) {
      sources.push(name);
      if (merged.has(name)) continue;
      for (const [id, count, last] of doc.entries) mergeDelta(entries, id, { count, last });
    }
    return { entries, sources };
  }

  async settle(snapshot: AccessSnapshot, deleted: readonly string[], signal?: AbortSignal): Promise<void> {
    if (snapshot.sources.length === 0) return;
    const gone = new Set(deleted);
    const entries = [...snapshot.entries].filter(([id]) => !gone.has(id)).map(([id, d]) => [id, d.count, d.last] as const);
    const name = `m-${this.now().toString().padStart(15, '0')}-${this.replica}-${this.seq++}`;
    await this.records.create({ kind: 'access', name }, JSON.stringify({ sources: snapshot.sources, entries }), signal);
    await this.records.remove(snapshot.sources.map((n) => ({ kind: 'access' as const, name: n })), signal);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
