import { VelocityError } from '../errors.js';
import type { ArtifactHandle, PresignFacet, PresignedRequest, StorageDriver } from './driver.js';

/** A store without the presign facet cannot hand out URLs; the caller must stream instead. */
export class PresignUnsupportedError extends VelocityError {
  constructor(store: string) {
    super(`the ${store} store cannot presign URLs`, { status: 501, code: 'presign_unsupported' });
  }
}

export function presignFacet(store: StorageDriver): PresignFacet {
  if (!store.presign) throw new PresignUnsupportedError(store.name);
  return store.presign;
}

/** A download URL for what `head()` found, through the store's presign facet. */
export function presignDownload(store: StorageDriver, handle: ArtifactHandle, ttlSeconds: number, signal?: AbortSignal): Promise<PresignedRequest> {
  return presignFacet(store).download(handle, ttlSeconds, signal);
}
