import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type {
  ArtifactInfo,
  ArtifactRef,
  PresignedRequest,
  PutResult,
  StorageDriver,
  UploadIntent,
} from '../../src/storage/driver.js';
import { IntegrityError, StorageUnavailableError } from '../../src/storage/errors.js';
import { artifactKey } from '../../src/storage/object-keys.js';

/**
 * An in-memory StorageDriver for the builds' unit tests only: it enforces what matters to them
 * (declared length and digest, first write wins). Integration tests use the real drivers.
 */
export class MemoryDriver implements StorageDriver {
  readonly name = 'local' as const;
  readonly capabilities = { presign: true, conditionalWrites: true, digest: 'sha256', multipart: false } as const;
  readonly objects = new Map<string, { info: ArtifactInfo; body: Buffer }>();
  puts = 0;
  /** Set to make every call fail as an outage. */
  down = false;

  /** The real object key (`<space>/<namespace>/<hash>`), so key spaces stay apart here too. */
  private id(ref: ArtifactRef): string {
    return artifactKey(ref);
  }

  private check(): void {
    if (this.down) throw new StorageUnavailableError('memory store is down');
  }

  head(ref: ArtifactRef): Promise<ArtifactInfo | null> {
    this.check();
    return Promise.resolve(this.objects.get(this.id(ref))?.info ?? null);
  }

  presignDownload(ref: ArtifactRef, ttlSeconds: number): Promise<PresignedRequest> {
    this.check();
    return Promise.resolve({
      url: `memory://${this.id(ref)}`,
      method: 'GET',
      headers: {},
      expiresAt: new Date(Date.now() + ttlSeconds * 1000),
    });
  }

  async put(intent: UploadIntent, body: Readable): Promise<PutResult> {
    this.check();
    this.puts++;
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    if (bytes.length !== intent.size) throw new IntegrityError('length mismatch');
    if (createHash('sha256').update(bytes).digest('hex') !== intent.sha256) throw new IntegrityError('digest mismatch');
    const id = this.id(intent.ref);
    if (this.objects.has(id)) return 'exists';
    this.objects.set(id, {
      info: { size: intent.size, sha256: intent.sha256, createdAt: new Date().toISOString(), meta: intent.meta ?? {} },
      body: bytes,
    });
    return 'created';
  }

  presignUpload(): Promise<PresignedRequest> {
    return Promise.reject(new Error('not used by builds'));
  }
  createMultipartUpload(): never {
    throw new Error('not used by builds');
  }
  completeMultipartUpload(): never {
    throw new Error('not used by builds');
  }
  abortMultipartUpload(): never {
    throw new Error('not used by builds');
  }
  get(): never {
    throw new Error('not used by builds');
  }
  init(): Promise<void> {
    return Promise.resolve();
  }
  ping(): Promise<void> {
    this.check();
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
