import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client, type _Object } from '@aws-sdk/client-s3';
import type { ArtifactRef, ListPage, ListQuery, ListedArtifact } from '../driver.js';
import { artifactKey, listPrefix, parseArtifactKey } from '../object-keys.js';
import { toStorageError } from './classify-s3-error.js';
import type { S3Locator } from './s3-locator.js';
import { MalformedObjectError } from './s3-object-info.js';

const DEFAULT_LIMIT = 1000;
/** DeleteObjects takes at most this many keys per request. */
export const DELETE_BATCH = 1000;

/**
 * Listing and deleting artifacts with the S3 API: ListObjectsV2 pages of up to 1,000 keys, and
 * DeleteObjects batches of up to 1,000. A zero-length object may be a multipart artifact's
 * pointer: it is resolved (two HEADs) so the listing reports the blob's size, and the blob's key
 * is remembered by the listing entry so a deletion removes both. Keys are parsed back into refs
 * (`parseArtifactKey`); an object that is not exactly one of ours is skipped.
 */
export class S3Listing {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly locator: S3Locator,
  ) {}

  async list(query: ListQuery, signal?: AbortSignal): Promise<ListPage> {
    const limit = Math.max(1, Math.min(query.limit ?? DEFAULT_LIMIT, DELETE_BATCH));
    const page = await this.page(listPrefix(query.space, query.namespace, query.prefix), query.cursor, limit, signal);
    const items: ListedArtifact[] = [];
    for (const obj of page.objects) {
      const ref = obj.Key === undefined ? undefined : parseArtifactKey(obj.Key);
      if (!ref) continue;
      const item = await this.item(ref, obj, signal);
      if (item) items.push(item);
    }
    return { items, ...(page.next === undefined ? {} : { cursor: page.next }) };
  }

  /** One ListObjectsV2 call; `next` is the last key seen when there is more. */
  async page(prefix: string, after: string | undefined, limit: number, signal?: AbortSignal): Promise<{ objects: _Object[]; next?: string }> {
    try {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, StartAfter: after, MaxKeys: limit }),
        { abortSignal: signal },
      );
      const objects = res.Contents ?? [];
      const last = objects[objects.length - 1]?.Key;
      return res.IsTruncated && last !== undefined ? { objects, next: last } : { objects };
    } catch (err) {
      throw toStorageError(err, `list ${prefix}`);
    }
  }

  private async item(ref: ArtifactRef, obj: _Object, signal?: AbortSignal): Promise<ListedArtifact | undefined> {
    const key = artifactKey(ref);
    if (obj.Size !== 0) {
      const item: ListedArtifact = { ref, size: obj.Size ?? 0, createdAt: obj.LastModified?.getTime() ?? 0 };
      this.locator.remember(item, ref, key);
      return item;
    }
    try {
      const found = await this.locator.resolve(ref, signal);
      // Deleted since the listing, or a pointer whose blob is gone (the sweeper's business).
      if (found === null || found === 'broken') return undefined;
      const item: ListedArtifact = { ref, size: found.info.size, createdAt: Date.parse(found.info.createdAt) };
      this.locator.remember(item, ref, found.location);
      return item;
    } catch (err) {
      if (err instanceof MalformedObjectError) return undefined;
      throw err;
    }
  }

  /**
   * Pointers and plain artifacts go first, blobs after, each in DeleteObjects batches: a reader
   * then never meets a pointer whose blob is already gone.
   */
  async delete(targets: readonly { readonly ref: ArtifactRef }[], signal?: AbortSignal): Promise<void> {
    const keys: string[] = [];
    const blobs: string[] = [];
    for (const target of targets) {
      const key = artifactKey(target.ref);
      let location = this.locator.known(target, target.ref);
      if (location === undefined) {
        const found = await this.locator.resolve(target.ref, signal).catch((err: unknown) => {
          if (err instanceof MalformedObjectError) return null;
          throw err;
        });
        location = found && found !== 'broken' ? found.location : key;
      }
      keys.push(key);
      if (location !== key) blobs.push(location);
    }
    await this.deleteKeys(keys, signal);
    await this.deleteKeys(blobs, signal);
  }

  /** Raw keys (built by object-keys.ts), in batches of up to 1,000; missing keys are fine. */
  async deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      try {
        const res = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          { abortSignal: signal },
        );
        const failed = res.Errors?.[0];
        if (failed) throw Object.assign(new Error(failed.Message ?? 'delete failed'), { name: failed.Code ?? 'DeleteFailed' });
      } catch (err) {
        throw toStorageError(err, `delete ${batch.length} objects`);
      }
    }
  }
}
