import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface FileDigest {
  readonly size: number;
  /** Lowercase hex. */
  readonly sha256: string;
  /** Base64, for stores that check Content-MD5. */
  readonly md5: string;
}

/** One pass over the file: size and both digests an upload may have to declare. */
export async function digestFile(path: string, signal?: AbortSignal): Promise<FileDigest> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of createReadStream(path, { signal })) {
    const buf = chunk as Buffer;
    size += buf.length;
    sha256.update(buf);
    md5.update(buf);
  }
  return { size, sha256: sha256.digest('hex'), md5: md5.digest('base64') };
}
