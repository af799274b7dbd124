import { MD5_BASE64, SHA256_HEX, checkArtifactMeta } from '../artifact-meta.js';
import type { ArtifactRef, SignedPart, UploadIntent } from '../driver.js';
import { SignedUrlRejectedError } from '../errors.js';
import { artifactKey, artifactRef, spaceOf } from '../object-keys.js';
import type { LocalUrlSigner, ParamShape } from './local-url-signer.js';

/** The canonical parameters of each kind of URL: a URL with any other set is refused. */
const DOWNLOAD: ParamShape = { required: [] };
const UPLOAD: ParamShape = { required: ['size', 'sha256'], optional: ['md5'], extra: /^meta-[a-z0-9][a-z0-9-]{0,63}$/ };
/**
 * A part URL's path (`uploads/<ns>/<hash>/<uploadId>/<part>`, the route the gateway serves) has no
 * room for the key space, so the space travels as a signed parameter.
 */
const PART: ParamShape = { required: ['space'] };


type Signed = { url: string; expiresAt: Date };

/**
 * The local driver's URLs, signed and checked in one place: what a URL of each kind carries, and
 * what the gateway's local routes accept. Every check returns typed values parsed from signed
 * parameters only; the route never reads the query itself.
 */
export class LocalSignedUrls {
  constructor(private readonly signer: LocalUrlSigner) {}

  download(ref: ArtifactRef, ttlSeconds: number): Signed {
    return this.signer.sign({ method: 'GET', path: artifactKey(ref), params: {} }, ttlSeconds);
  }

  upload(intent: UploadIntent, meta: Readonly<Record<string, string>>, ttlSeconds: number): Signed {
    const params: Record<string, string> = { size: String(intent.size), sha256: intent.sha256 };
    if (intent.md5) params.md5 = intent.md5;
    for (const [k, v] of Object.entries(meta)) params[`meta-${k}`] = v;
    return this.signer.sign({ method: 'PUT', path: artifactKey(intent.ref), params }, ttlSeconds);
  }

  part(ref: ArtifactRef, uploadId: string, partNumber: number, ttlSeconds: number): Signed {
    const path = partPath(ref.namespace, ref.hash, uploadId, String(partNumber));
    return this.signer.sign({ method: 'PUT', path, params: { space: spaceOf(ref) } }, ttlSeconds);
  }

  /** HEAD is checked against the GET URL, as with S3. */
  checkDownload(ref: ArtifactRef, query: URLSearchParams): void {
    this.check('GET', artifactKey(ref), query, DOWNLOAD);
  }

  checkUpload(ref: ArtifactRef, query: URLSearchParams): UploadIntent {
    const p = this.check('PUT', artifactKey(ref), query, UPLOAD);
    const size = Number(p.size);
    if (!/^\d{1,16}$/.test(p.size ?? '') || !Number.isSafeInteger(size)) throw new SignedUrlRejectedError('bad size');
    if (!SHA256_HEX.test(p.sha256 ?? '')) throw new SignedUrlRejectedError('bad sha256');
    if (p.md5 !== undefined && !MD5_BASE64.test(p.md5)) throw new SignedUrlRejectedError('bad md5');
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(p)) if (k.startsWith('meta-')) meta[k.slice('meta-'.length)] = v;
    return { ref, size, sha256: p.sha256 as string, md5: p.md5, meta: checkArtifactMeta(meta) };
  }

  checkPart(namespace: string, hash: string, uploadId: string, part: string, query: URLSearchParams): SignedPart {
    const p = this.check('PUT', partPath(namespace, hash, uploadId, part), query, PART);
    if (!/^[1-9]\d{0,4}$/.test(part)) throw new SignedUrlRejectedError('bad part number');
    return { ref: artifactRef(namespace, hash, p.space), uploadId, partNumber: Number(part) };
  }

  private check(method: 'GET' | 'PUT', path: string, query: URLSearchParams, shape: ParamShape): Record<string, string> {
    const check = this.signer.verify(method, path, query, shape);
    if (!check.ok) throw new SignedUrlRejectedError(check.reason);
    return check.params;
  }
}

function partPath(namespace: string, hash: string, uploadId: string, part: string): string {
  return `uploads/${namespace}/${hash}/${uploadId}/${part}`;
}
