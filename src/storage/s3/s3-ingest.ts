import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { PayloadTooLargeError, VelocityError } from '../../errors.js';
import type { ArtifactInfo, ArtifactRef, IngestIntent, IngestResult } from '../driver.js';
import { StorageUnavailableError } from '../errors.js';
import { type IngestMeter, type Measured, meterBody } from '../ingest-meter.js';
import { checkIngestIntent } from '../ingest-scope.js';
import { blobKey, describeRef } from '../object-keys.js';
import { toStorageError } from './classify-s3-error.js';
import type { S3Locator } from './s3-locator.js';
import { PartReader, type Part } from './s3-part-reader.js';
import { deleteQuietly, publishPointer, type PointerTarget } from './s3-publish.js';

export interface S3IngestOptions extends PointerTarget {
  readonly locator: S3Locator;
  /** Bodies declared up to this size go in one streamed PutObject; others in parts of this size. */
  readonly partSize: number;
  /** Parts sent at once. */
  readonly concurrency: number;
  /** Per cleanup call (cleanup never runs under the caller's signal, which may have fired). */
  readonly timeoutMs: number;
  readonly now: () => number;
}

/** S3 allows at most this many parts in one upload. */
const MAX_PARTS = 10_000;
/** How often a publish that lost to an artifact deleted before it could be read is tried again. */
const PUBLISH_ATTEMPTS = 3;

/**
 * Client-protocol uploads into S3, whose digest is known only once the last byte has passed. The
 * bytes go to a fresh blob of this ref (`blobs/<space>/<ns>/<hash>/<id>`, a key nothing else
 * writes and no reader resolves until a pointer names it), counted and hashed on the way
 * (ingest-meter.ts); then a conditional PUT (`If-None-Match: *`) of the zero-length pointer at
 * the artifact key publishes it, recording the computed digest and the caller's facts. Readers see
 * nothing until that PUT, and then all of it; a second writer's PUT is refused (412), whichever
 * protocol or replica it came from, and its blob deleted.
 *
 * Calls per artifact: a HEAD of the key first (an existing artifact is answered at once, the body
 * dropped); then, for a body declared at most `partSize` long, one streamed PutObject of the blob
 * and the pointer PUT (3 in all); for a larger or chunked body, CreateMultipartUpload, one
 * UploadPart per `partSize` bytes (at most `concurrency` at once, each with its Content-MD5),
 * CompleteMultipartUpload onto the blob key (never the artifact key: RGW 16 ignores If-None-Match
 * on completion) and the pointer PUT. A chunked body that fits in one part is sent as one
 * PutObject. Memory per upload: at most `concurrency + 1` part buffers, reused.
 *
 * Where the digest lives, and why a client cannot plant it: the blob carries no
 * `x-amz-meta-sha256` (it was unknown when the blob was created), so the digest is on the pointer,
 * which only this code writes. The locator (s3-locator.ts) reads a pointer's digest only in the
 * client-protocol key spaces, where no presigned or multipart URL is ever issued (ingest-scope.ts,
 * checked by presign and multipart themselves): RGW keeps any unsigned `x-amz-meta-*` a client adds
 * to a presigned PUT, but there is no presigned PUT there to add it to. In the `artifacts` space a
 * pointer's digest is never read (a blob there always carries its own, set by the gateway).
 *
 * On any failure before the pointer PUT (the caller's signal, the body erroring or ending early,
 * too large, a wrong digest, the store failing) the store calls in flight are cancelled, the
 * multipart upload aborted and the blob deleted; whatever a cleanup call could not remove (the
 * store was down) is unnamed and swept after the usual age. An outage during the pointer PUT
 * leaves the blob: the PUT may have landed, and a pointer must never name a deleted blob.
 */
export class S3Ingest {
  constructor(private readonly o: S3IngestOptions) {}

  async ingest(intent: IngestIntent, body: Readable, signal?: AbortSignal): Promise<IngestResult> {
    const meta = checkIngestIntent(intent);
    const { ref } = intent;
    if (intent.size !== undefined && Math.ceil(intent.size / this.o.partSize) > MAX_PARTS) {
      throw new PayloadTooLargeError(`artifact of ${intent.size} bytes needs more than ${MAX_PARTS} parts of ${this.o.partSize} bytes`);
    }
    const existing = await this.o.locator.lookup(ref, signal);
    if (existing) {
      // Nothing to store; the rest of the body is read and dropped so the client gets its answer.
      body.resume();
      return { result: 'exists', info: existing.info };
    }
    const uploadId = randomBytes(18).toString('base64url');
    const metered = meterBody(body, intent, signal);
    let measured: Measured;
    try {
      const blob = blobKey(ref, uploadId);
      measured =
        intent.size !== undefined && intent.size <= this.o.partSize
          ? await this.streamBlob(intent.size, metered.meter, blob)
          : await this.partsBlob(metered.meter, blob);
    } catch (err) {
      // The body's own failure explains best (the store calls then failed because they were cut):
      // the client's error or the signal's reason as they are, or the limit or digest it broke.
      if (metered.meter.errored) throw metered.meter.errored;
      throw err instanceof VelocityError ? err : toStorageError(err, describeRef(ref), uploadId);
    } finally {
      metered.detach();
    }
    const info: ArtifactInfo = { ...measured, createdAt: new Date(this.o.now()).toISOString(), meta };
    // Complete and checked: publishing is not cut short by a client leaving now.
    return this.publish(ref, uploadId, info);
  }

  /**
   * One PutObject streaming the body with its declared length. A body that fails before the store
   * has all its declared bytes cuts the PUT (the store keeps nothing of a short request). One found
   * wrong once its declared bytes have passed (a wrong digest, more bytes than declared) ends the
   * meter cleanly instead: the store completes the object, which is then deleted.
   */
  private async streamBlob(size: number, meter: IngestMeter, blob: string): Promise<Measured> {
    const put = new AbortController();
    const cut = (): void => {
      if (meter.forwarded < size) put.abort();
    };
    meter.on('error', cut);
    try {
      await this.o.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: blob, Body: meter, ContentLength: size }), { abortSignal: put.signal });
      // The store took the declared bytes; only a meter that ended cleanly says they were right.
      await finished(meter, { writable: false });
      return meter.result;
    } catch (err) {
      await this.deleteBlob(blob);
      throw err;
    } finally {
      meter.off('error', cut);
    }
  }

  /** A chunked or large body: cut into parts; one that fits in a single part is one PutObject. */
  private async partsBlob(meter: IngestMeter, blob: string): Promise<Measured> {
    const reader = new PartReader(meter, this.o.partSize);
    const first = await reader.next();
    const second = first && first.bytes.length === this.o.partSize ? await reader.next() : undefined;
    if (!second) {
      // The whole body, read and checked: sent as it is (a request cut half-way could still be
      // completed by the store after the delete meant to clean it up).
      const bytes = first?.bytes ?? Buffer.alloc(0);
      const measured = meter.result;
      try {
        await this.o.client.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: blob, Body: bytes, ContentLength: bytes.length, ContentMD5: md5(bytes) }));
      } catch (err) {
        await this.deleteBlob(blob);
        throw err;
      }
      return measured;
    }
    // Only the parts are cut when the body fails or a part does; creating and completing the
    // upload are short and not cut, so the upload id is always known and aborted on failure.
    const parts = new AbortController();
    const cut = (): void => parts.abort();
    meter.on('error', cut);
    let s3UploadId: string | undefined;
    try {
      const created = await this.o.client.send(new CreateMultipartUploadCommand({ Bucket: this.o.bucket, Key: blob }));
      s3UploadId = created.UploadId;
      if (!s3UploadId) throw new StorageUnavailableError(`${blob}: the store returned no UploadId`);
      const sent = await this.sendParts(reader, [first!, second], blob, s3UploadId, () => {
        parts.abort();
        // Stops a read waiting for a slow client; the body's own errors stay the meter's.
        meter.destroy();
      }, parts.signal);
      // Not assembled unless the body was whole and right.
      const measured = meter.result;
      await this.o.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.o.bucket, Key: blob, UploadId: s3UploadId, MultipartUpload: { Parts: sent } }),
      );
      return measured;
    } catch (err) {
      if (s3UploadId !== undefined) await this.abortUpload(blob, s3UploadId);
      await this.deleteBlob(blob);
      throw err;
    } finally {
      meter.off('error', cut);
    }
  }

  /** At most `concurrency` parts in flight; the next one is read only when a slot is free. */
  private async sendParts(
    reader: PartReader,
    initial: Part[],
    blob: string,
    s3UploadId: string,
    stop: () => void,
    signal: AbortSignal,
  ): Promise<CompletedPart[]> {
    const sent: CompletedPart[] = [];
    const inflight = new Set<Promise<void>>();
    let failed: { err: unknown } | undefined;
    let number = 0;
    const send = (part: Part): void => {
      const partNumber = ++number;
      const p = this.o.client
        .send(
          new UploadPartCommand({
            Bucket: this.o.bucket,
            Key: blob,
            UploadId: s3UploadId,
            PartNumber: partNumber,
            Body: part.bytes,
            ContentLength: part.bytes.length,
            ContentMD5: md5(part.bytes),
          }),
          { abortSignal: signal },
        )
        .then(
          (res) => void sent.push({ PartNumber: partNumber, ETag: res.ETag }),
          (err: unknown) => {
            failed ??= { err };
            stop();
          },
        )
        .finally(() => {
          inflight.delete(p);
          reader.release(part);
        });
      inflight.add(p);
    };
    try {
      const queued = [...initial];
      for (;;) {
        while (inflight.size >= this.o.concurrency && !failed) await Promise.race(inflight);
        if (failed) break;
        const part = queued.shift() ?? (await reader.next());
        if (!part) break;
        if (number === MAX_PARTS) throw new PayloadTooLargeError(`artifact needs more than ${MAX_PARTS} parts of ${this.o.partSize} bytes`);
        send(part);
      }
    } catch (err) {
      failed ??= { err };
      stop();
    }
    await Promise.all([...inflight]);
    if (failed) throw failed.err;
    return sent.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
  }

  private async publish(ref: ArtifactRef, uploadId: string, info: ArtifactInfo): Promise<IngestResult> {
    const blob = blobKey(ref, uploadId);
    const pointerMeta = { ...info.meta, sha256: info.sha256 };
    for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
      if ((await publishPointer(this.o, ref, uploadId, pointerMeta)) === 'created') return { result: 'created', info };
      const winner = await this.o.locator.lookup(ref);
      // Our own pointer (a PUT retried after its first answer was lost) is our artifact.
      if (winner?.location === blob) return { result: 'created', info };
      if (winner) return { result: 'exists', info: winner.info };
      // The winner was deleted between the two steps: publish again.
    }
    await this.deleteBlob(blob);
    throw new StorageUnavailableError(`${describeRef(ref)}: the key kept changing while being published`);
  }

  private async abortUpload(blob: string, s3UploadId: string): Promise<void> {
    await this.o.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.o.bucket, Key: blob, UploadId: s3UploadId }), {
        abortSignal: AbortSignal.timeout(this.o.timeoutMs),
      })
      .catch(() => undefined);
  }

  private deleteBlob(blob: string): Promise<void> {
    return deleteQuietly(this.o, blob, this.o.timeoutMs);
  }
}

function md5(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('base64');
}
