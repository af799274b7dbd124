import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type {
  ArtifactHandle,
  ArtifactInfo,
  ArtifactRef,
  ListPage,
  PresignFacet,
  PutResult,
  ReplaceFacet,
  StorageDriver,
  UploadIntent,
} from '../../src/storage/driver.js';
import { IntegrityError, StorageUnavailableError } from '../../src/storage/errors.js';
import { artifactKey } from '../../src/storage/object-keys.js';
import { assertReplaceable } from '../../src/storage/replace-scope.js';

/**
 * An in-memory StorageDriver for the builds' unit tests only: it enforces what matters to them
 * (declared length and digest, first write wins). Integration tests use the real drivers.
 */
export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  readonly capabilities = { conditionalWrites: true, digest: 'sha256' } as const;
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

  head(ref: ArtifactRef): Promise<ArtifactHandle | null> {
    this.check();
    const stored = this.objects.get(this.id(ref));
    return Promise.resolve(stored ? { ref, info: stored.info } : null);
  }

  readonly presign: PresignFacet = {
    download: (handle, ttlSeconds) => {
      this.check();
      return Promise.resolve({
        url: `memory://${this.id(handle.ref)}`,
        method: 'GET',
        headers: {},
        expiresAt: new Date(Date.now() + ttlSeconds * 1000),
      });
    },
    upload: () => Promise.reject(new Error('not used by builds')),
  };

  async write(intent: UploadIntent, body: Readable): Promise<PutResult> {
    this.check();
    this.puts++;
    const bytes = await this.verified(intent, body);
    const id = this.id(intent.ref);
    if (this.objects.has(id)) return 'exists';
    this.objects.set(id, { info: this.info(intent), body: bytes });
    return 'created';
  }

  /** Builds space only, as every driver's replace (src/storage/replace-scope.ts). */
  readonly replace: ReplaceFacet = {
    replace: async (intent, body) => {
      this.check();
      assertReplaceable(intent.ref);
      this.replaces++;
      const bytes = await this.verified(intent, body);
      this.objects.set(this.id(intent.ref), { info: this.info(intent), body: bytes });
    },
  };
  replaces = 0;

  private async verified(intent: UploadIntent, body: Readable): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    if (bytes.length !== intent.size) throw new IntegrityError('length mismatch');
    if (createHash('sha256').update(bytes).digest('hex') !== intent.sha256) throw new IntegrityError('digest mismatch');
    return bytes;
  }

  private info(intent: UploadIntent): ArtifactInfo {
    return { size: intent.size, sha256: intent.sha256, createdAt: new Date().toISOString(), meta: intent.meta ?? {} };
  }

  ingest(): never {
    throw new Error('not used by builds');
  }
  openRead(): never {
    throw new Error('not used by builds');
  }
  delete(targets: readonly { readonly ref: ArtifactRef }[]): Promise<void> {
    for (const t of targets) this.objects.delete(this.id(t.ref));
    return Promise.resolve();
  }
  list(): Promise<ListPage> {
    return Promise.resolve({ items: [] });
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
