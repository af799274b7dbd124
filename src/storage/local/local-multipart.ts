import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { md5Base64ToHex, normalizeEtag } from '../artifact-meta.js';
import type { ArtifactInfo, ArtifactRef, CompletedPart, MultipartUpload, PartIntent, PutResult, UploadIntent } from '../driver.js';
import { IntegrityError, UploadNotFoundError } from '../errors.js';
import { UPLOAD_ID_PATTERN } from '../object-keys.js';
import { LocalFiles, metaFile } from './local-files.js';
import type { LocalSignedUrls } from './local-signed-urls.js';
import { writeVerified } from './verifying-writer.js';

interface Manifest {
  size: number;
  sha256: string;
  meta: Record<string, string>;
  parts: PartIntent[];
}

/**
 * Multipart uploads on local disk: parts verified on arrival, the whole verified before publishing.
 *
 * A complete first claims its upload with one rename(2) of the upload folder out of reach, so of
 * any number of concurrent completes of one upload exactly one assembles it; the others find it
 * gone and answer `exists` once the artifact is published, else `upload_not_found`. (Before, every
 * complete assembled from the same folder and the first to finish deleted it under the others,
 * which then failed with a missing part: a 400 for a valid upload.) Completes of different uploads
 * of one key race only on the publishing rename, which the first wins.
 */
export class LocalMultipart {
  constructor(
    private readonly files: LocalFiles,
    private readonly urls: LocalSignedUrls,
    private readonly now: () => number,
  ) {}

  async create(intent: UploadIntent, meta: Record<string, string>, parts: readonly PartIntent[], ttlSeconds: number): Promise<MultipartUpload> {
    const uploadId = randomBytes(18).toString('base64url');
    const dir = this.files.uploadDir(intent.ref, uploadId);
    const manifest: Manifest = { size: intent.size, sha256: intent.sha256, meta, parts: [...parts] };
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    } catch (err) {
      await this.files.discard(dir);
      throw this.files.disk.toStorageError('create upload', err);
    }
    let expiresAt = new Date(this.now() + ttlSeconds * 1000);
    const signed = parts.map((part, i) => {
      const s = this.urls.part(intent.ref, uploadId, i + 1, ttlSeconds);
      expiresAt = s.expiresAt;
      const headers = { 'Content-Length': String(part.size), 'Content-MD5': part.md5 };
      return { partNumber: i + 1, url: s.url, method: 'PUT' as const, headers, expiresAt: s.expiresAt };
    });
    return { uploadId, parts: signed, expiresAt };
  }

  private async manifest(dir: string, uploadId: string): Promise<Manifest> {
    if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new UploadNotFoundError(uploadId);
    try {
      return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UploadNotFoundError(uploadId);
      throw this.files.disk.toStorageError('read upload', err);
    }
  }

  /** Returns the part's ETag (quoted hex MD5, as S3 does). */
  async putPart(ref: ArtifactRef, uploadId: string, partNumber: number, body: Readable, signal?: AbortSignal): Promise<string> {
    const dir = this.files.uploadDir(ref, uploadId);
    const m = await this.manifest(dir, uploadId);
    const declared = m.parts[partNumber - 1];
    if (!declared) throw new IntegrityError(`part ${partNumber} was not declared`);
    const tmp = join(dir, `part-${partNumber}.${randomBytes(6).toString('hex')}`);
    try {
      await writeVerified(body, tmp, { size: declared.size, md5: declared.md5 }, signal);
      await rename(tmp, join(dir, `part-${partNumber}`));
    } catch (err) {
      await this.files.discard(tmp);
      // The upload was completed or aborted while this part was arriving.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UploadNotFoundError(uploadId);
      throw this.files.disk.toStorageError(`part ${partNumber}`, err);
    }
    return `"${md5Base64ToHex(declared.md5)}"`;
  }

  async complete(ref: ArtifactRef, uploadId: string, claimed: readonly CompletedPart[], signal?: AbortSignal): Promise<PutResult> {
    const dir = this.files.uploadDir(ref, uploadId);
    const m = await this.manifest(dir, uploadId);
    if (claimed.length !== m.parts.length) throw new IntegrityError(`expected ${m.parts.length} parts, got ${claimed.length}`);
    m.parts.forEach((p, i) => {
      const c = claimed[i];
      if (!c || c.partNumber !== i + 1 || normalizeEtag(c.etag) !== md5Base64ToHex(p.md5)) {
        throw new IntegrityError(`part ${i + 1}: the ETag sent does not match the declared part`);
      }
    });
    const mine = this.files.tmpPath();
    try {
      await rename(dir, mine);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw this.files.disk.toStorageError('claim upload', err);
      // Another complete claimed it first (or it was aborted).
      if (await this.files.isPublished(ref)) return 'exists';
      throw new UploadNotFoundError(uploadId);
    }
    let staging: string;
    try {
      staging = await this.assemble(mine, m, signal);
    } catch (err) {
      // Give the upload back, so that a retry (after the disk has room again) can complete it.
      await rename(mine, dir).catch(() => this.files.discard(mine));
      throw this.files.disk.toStorageError('complete upload', err);
    }
    const created = await this.files.publish(staging, ref);
    await this.files.discard(mine);
    return created ? 'created' : 'exists';
  }

  /** Concatenates the parts into a new staging folder with the artifact's meta.json; verifies the whole. */
  private async assemble(dir: string, m: Manifest, signal?: AbortSignal): Promise<string> {
    const staging = await this.files.stagingDir();
    try {
      const sha = createHash('sha256');
      const out = createWriteStream(join(staging, 'data'), { flags: 'wx' });
      for (let n = 1; n <= m.parts.length; n++) {
        const src = createReadStream(join(dir, `part-${n}`));
        src.on('data', (chunk) => sha.update(chunk));
        await pipeline(src, out, { end: false, ...(signal ? { signal } : {}) }).catch((err: NodeJS.ErrnoException) => {
          out.destroy();
          throw err.code === 'ENOENT' ? new IntegrityError(`part ${n} was not uploaded`) : err;
        });
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      if (sha.digest('hex') !== m.sha256) throw new IntegrityError('assembled artifact does not match the declared sha256');
      const info: ArtifactInfo = { size: m.size, sha256: m.sha256, createdAt: new Date(this.now()).toISOString(), meta: m.meta };
      await writeFile(join(staging, 'meta.json'), metaFile(info));
      return staging;
    } catch (err) {
      await this.files.discard(staging);
      throw err;
    }
  }

  async abort(ref: ArtifactRef, uploadId: string): Promise<void> {
    const dir = this.files.uploadDir(ref, uploadId);
    await this.manifest(dir, uploadId);
    await this.files.discard(dir);
  }
}
