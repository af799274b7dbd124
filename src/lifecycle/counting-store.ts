import { FACETS, type ArtifactHandle, type ByteRange, type PresignFacet, type StorageDriver } from '../storage/driver.js';
import type { AccessRecorder } from './access-counter.js';

/**
 * The store as seen by callers whose every read is a hit worth counting (build lookups, streamed
 * protocol routes): each presigned download and each streamed read counts one access. The
 * negotiator counts its own `found` answers instead (it reuses download URLs, so counting
 * presigns would undercount it).
 */
export function countingReads(store: StorageDriver, recorder: AccessRecorder): StorageDriver {
  const presign: PresignFacet | undefined = store.presign && {
    upload: (intent, ttl) => store.presign!.upload(intent, ttl),
    download: (handle, ttl, signal) => {
      recorder.hit(handle.ref);
      return store.presign!.download(handle, ttl, signal);
    },
  };
  return {
    name: store.name,
    capabilities: store.capabilities,
    head: (ref, signal) => store.head(ref, signal),
    openRead: (handle: ArtifactHandle, range?: ByteRange, signal?: AbortSignal) => {
      recorder.hit(handle.ref);
      return store.openRead(handle, range, signal);
    },
    write: (intent, body, signal) => store.write(intent, body, signal),
    ingest: (intent, body, signal) => store.ingest(intent, body, signal),
    delete: (targets, signal) => store.delete(targets, signal),
    list: (query, signal) => store.list(query, signal),
    init: (signal) => store.init(signal),
    ping: (signal) => store.ping(signal),
    close: () => store.close(),
    // Every facet the store has, by the one list (a facet left out here once kept force_rebuild
    // from replacing binaries behind this wrapper); presign is the counted one.
    ...Object.fromEntries(FACETS.filter((f) => store[f] !== undefined).map((f) => [f, store[f]])),
    ...(presign ? { presign } : {}),
  };
}
