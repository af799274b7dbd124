import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SweepFacet, SweepOptions, SweepReport } from '../driver.js';
import { UploadNotFoundError } from '../errors.js';
import { BLOBS_PREFIX, KEY_SPACES, UPLOADS_PREFIX, artifactKey, listPrefix, parseArtifactKey, parseUploadKey } from '../object-keys.js';
import { classifyS3Error, toStorageError } from './classify-s3-error.js';
import type { S3Listing } from './s3-listing.js';
import type { S3Locator } from './s3-locator.js';
import type { S3Multipart } from './s3-multipart.js';
import { MalformedObjectError } from './s3-object-info.js';

/**
 * What multipart uploads leave in a bucket, removed once older than `olderThan` (younger ones may
 * still be in progress; part URLs never outlive the threshold, see the lifecycle config):
 * 1. manifests of uploads nobody completed or aborted: the store's upload is aborted (its parts
 *    freed) and the manifest deleted, exactly as an abort does;
 * 2. store multipart uploads under `blobs/` whose manifest is already gone;
 * 3. blobs no pointer names (a complete that lost, an artifact deleted half-way), once their
 *    manifest is gone too: while it exists a complete may be publishing them;
 * 4. pointers whose blob is gone (they answer 503 to every reader).
 */
export class S3Sweeper implements SweepFacet {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly listing: S3Listing,
    private readonly locator: S3Locator,
    private readonly multipart: S3Multipart,
  ) {}

  async sweep(opts: SweepOptions, signal?: AbortSignal): Promise<SweepReport> {
    let uploads = 0;
    let orphans = 0;
    let freedBytes = 0;
    const manifests = new Set<string>();
    for await (const o of this.objects(UPLOADS_PREFIX, signal)) {
      const parsed = parseUploadKey(o.key);
      if (parsed?.kind !== 'manifest') continue;
      if (o.modified >= opts.olderThan) {
        manifests.add(`${artifactKey(parsed.ref)}/${parsed.uploadId}`);
        continue;
      }
      uploads++;
      if (!opts.dryRun) await this.multipart.abort(parsed.ref, parsed.uploadId, signal).catch(ignoreGone);
    }
    uploads += await this.abortStoreUploads(opts, signal);
    for await (const o of this.objects(BLOBS_PREFIX, signal)) {
      const parsed = parseUploadKey(o.key);
      if (parsed?.kind !== 'blob' || o.modified >= opts.olderThan) continue;
      if (manifests.has(`${artifactKey(parsed.ref)}/${parsed.uploadId}`)) continue;
      if (this.named(await this.locator.resolve(parsed.ref, signal).catch(malformedAsNull), o.key)) continue;
      orphans++;
      freedBytes += o.size;
      if (!opts.dryRun) await this.listing.deleteKeys([o.key], signal);
    }
    for (const space of KEY_SPACES) {
      for await (const o of this.objects(listPrefix(space), signal)) {
        const ref = parseArtifactKey(o.key);
        if (!ref || o.size !== 0 || o.modified >= opts.olderThan) continue;
        if ((await this.locator.resolve(ref, signal).catch(malformedAsNull)) !== 'broken') continue;
        orphans++;
        if (!opts.dryRun) await this.listing.deleteKeys([o.key], signal);
      }
    }
    return { uploads, orphans, temporary: 0, freedBytes };
  }

  private named(found: Awaited<ReturnType<S3Locator['resolve']>>, blob: string): boolean {
    return found !== null && found !== 'broken' && found.location === blob;
  }

  /** Store uploads under `blobs/` older than the threshold whose manifest is gone (case 2). */
  private async abortStoreUploads(opts: SweepOptions, signal?: AbortSignal): Promise<number> {
    let count = 0;
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      let res;
      try {
        res = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: BLOBS_PREFIX, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
          { abortSignal: signal },
        );
      } catch (err) {
        throw toStorageError(err, 'list multipart uploads');
      }
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || (u.Initiated?.getTime() ?? 0) >= opts.olderThan) continue;
        if (parseUploadKey(u.Key)?.kind !== 'blob') continue;
        count++;
        if (opts.dryRun) continue;
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal })
          .catch((err: unknown) => {
            if (classifyS3Error(err) !== 'no_such_upload') throw toStorageError(err, u.Key ?? 'upload');
          });
      }
      if (!res.IsTruncated) return count;
      keyMarker = res.NextKeyMarker;
      idMarker = res.NextUploadIdMarker;
    }
  }

  private async *objects(prefix: string, signal?: AbortSignal): AsyncGenerator<{ key: string; size: number; modified: number }> {
    let after: string | undefined;
    do {
      const page = await this.listing.page(prefix, after, 1000, signal);
      for (const o of page.objects) {
        if (o.Key !== undefined) yield { key: o.Key, size: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0 };
      }
      after = page.next;
    } while (after !== undefined);
  }
}

function ignoreGone(err: unknown): void {
  if (!(err instanceof UploadNotFoundError)) throw err;
}

function malformedAsNull(err: unknown): null {
  if (err instanceof MalformedObjectError) return null;
  throw err;
}
