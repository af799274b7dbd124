import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { RecordKey, RecordKind, RecordsFacet } from '../driver.js';
import { RECORD_NAME_PATTERN, recordKey, recordPrefix } from '../object-keys.js';
import { classifyS3Error, toStorageError } from './classify-s3-error.js';
import { objectExists } from './s3-exists.js';
import type { S3Listing } from './s3-listing.js';

/**
 * Private documents in the bucket (`system/<kind>/<name>`), written with the gateway's own
 * credentials (no client URL can name them). `create` is a conditional PUT (`If-None-Match: *`):
 * of two creators the store lets exactly one win. On a store configured without conditional
 * writes it can only check first, so leases there are best effort (the lifecycle says so at start).
 */
export class S3Records implements RecordsFacet {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly listing: S3Listing,
    private readonly conditionalWrites: boolean,
  ) {}

  async create(key: RecordKey, body: string, signal?: AbortSignal): Promise<boolean> {
    const k = recordKey(key);
    if (!this.conditionalWrites && (await objectExists(this.client, this.bucket, k, signal))) return false;
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: k,
          Body: body,
          ContentType: 'application/json',
          IfNoneMatch: this.conditionalWrites ? '*' : undefined,
        }),
        { abortSignal: signal },
      );
      return true;
    } catch (err) {
      if (classifyS3Error(err) === 'precondition_failed') return false;
      throw toStorageError(err, k);
    }
  }

  async read(key: RecordKey, signal?: AbortSignal): Promise<string | null> {
    const k = recordKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: k }), { abortSignal: signal });
      return await (res.Body as { transformToString(): Promise<string> }).transformToString();
    } catch (err) {
      if (classifyS3Error(err) === 'not_found') return null;
      throw toStorageError(err, k);
    }
  }

  async list(kind: RecordKind, signal?: AbortSignal): Promise<string[]> {
    const prefix = recordPrefix(kind);
    const names: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.listing.page(prefix, after, 1000, signal);
      for (const o of page.objects) {
        const name = o.Key?.slice(prefix.length) ?? '';
        if (o.Key?.startsWith(prefix) && RECORD_NAME_PATTERN.test(name)) names.push(name);
      }
      after = page.next;
    } while (after !== undefined);
    return names;
  }

  remove(keys: readonly RecordKey[], signal?: AbortSignal): Promise<void> {
    return this.listing.deleteKeys(keys.map(recordKey), signal);
  }

}
