import type { KeySpace, ListedArtifact, StorageDriver } from '../storage/driver.js';
import { KEY_SPACES } from '../storage/object-keys.js';

/** Every published artifact of the store, page by page, both key spaces (artifacts and build binaries). */
export async function* listAll(store: StorageDriver, signal?: AbortSignal, onPage?: () => Promise<void>): AsyncGenerator<ListedArtifact> {
  for (const space of KEY_SPACES) {
    let cursor: string | undefined;
    do {
      const page = await store.list({ space, ...(cursor === undefined ? {} : { cursor }) }, signal);
      yield* page.items;
      cursor = page.cursor;
      await onPage?.();
    } while (cursor !== undefined);
  }
}

export interface NamespaceUsage {
  readonly space: KeySpace;
  readonly namespace: string;
  readonly bytes: number;
  readonly objects: number;
}

/** Bytes and artifacts per key space and namespace (`GET /v1/admin/stats`). */
export async function storeUsage(store: StorageDriver, signal?: AbortSignal): Promise<NamespaceUsage[]> {
  const usage = new Map<string, { space: KeySpace; namespace: string; bytes: number; objects: number }>();
  for await (const item of listAll(store, signal)) {
    const space = item.ref.space ?? 'artifacts';
    const id = `${space}/${item.ref.namespace}`;
    const u = usage.get(id) ?? { space, namespace: item.ref.namespace, bytes: 0, objects: 0 };
    u.bytes += item.size;
    u.objects++;
    usage.set(id, u);
  }
  return [...usage.values()];
}
