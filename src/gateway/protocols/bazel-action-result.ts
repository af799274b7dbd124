import { BadRequestError } from '../../errors.js';

/** A blob an action result names: the lowercase hex SHA-256 and the length of its bytes. */
export interface BlobDigest {
  readonly hash: string;
  readonly size: number;
}

/** SHA-256 of no bytes: Bazel never uploads (nor downloads) an empty blob, so it need not exist. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SHA256_HEX = /^[a-f0-9]{64}$/;

/**
 * The CAS blobs an `ActionResult` (REAPI v2, `build/bazel/remote/execution/v2/remote_execution.proto`,
 * message `build.bazel.remote.execution.v2.ActionResult`, which Bazel's HTTP cache stores under
 * `/ac/`) refers to: each output file's `digest`, each output directory's `tree_digest` (the
 * encoded `Tree`), and the `stdout_digest` and `stderr_digest`. Only these fields are read; every
 * other field is skipped by its wire type, so results from newer clients still decode.
 *
 * Field numbers (proto3):
 *   ActionResult:     output_files = 2 (OutputFile), output_directories = 3 (OutputDirectory),
 *                     stdout_digest = 6, stderr_digest = 8 (Digest)
 *   OutputFile:       digest = 2 (Digest)
 *   OutputDirectory:  tree_digest = 3 (Digest)
 *   Digest:           hash = 1 (string), size_bytes = 2 (int64)
 *
 * Throws BadRequestError for bytes that are not such a message, or a digest whose hash is not
 * lowercase hex SHA-256 (as bazel-remote's validation does) or whose size is negative.
 */
export function actionResultDigests(bytes: Uint8Array): BlobDigest[] {
  const digests: BlobDigest[] = [];
  forEachField(bytes, (field, value) => {
    if (field === 2) forEachField(value, (f, v) => f === 2 && digests.push(digest(v)));
    else if (field === 3) forEachField(value, (f, v) => f === 3 && digests.push(digest(v)));
    else if (field === 6 || field === 8) digests.push(digest(value));
  });
  return digests;
}

/** The blobs that must be in the CAS for the result to be usable (each once; empty blobs never). */
export function requiredBlobs(digests: readonly BlobDigest[]): BlobDigest[] {
  const byHash = new Map<string, BlobDigest>();
  for (const d of digests) {
    if (d.size === 0 && d.hash === EMPTY_SHA256) continue;
    const seen = byHash.get(d.hash);
    if (seen && seen.size !== d.size) throw invalid(`blob ${d.hash} is named with two sizes`);
    byHash.set(d.hash, d);
  }
  return [...byHash.values()];
}

function digest(bytes: Uint8Array): BlobDigest {
  // proto3 merges repeated occurrences of a singular field: the last value wins.
  let hash = '';
  let size = 0;
  forEachScalar(bytes, (field, value) => {
    if (field === 1 && value instanceof Uint8Array) hash = Buffer.from(value).toString('latin1');
    else if (field === 2 && typeof value === 'number') size = value;
  });
  if (!SHA256_HEX.test(hash)) throw invalid(`digest hash ${JSON.stringify(hash.slice(0, 80))} is not lowercase hex SHA-256`);
  return { hash, size };
}

/** Length-delimited fields only (embedded messages); other wire types are skipped. */
function forEachField(bytes: Uint8Array, visit: (field: number, value: Uint8Array) => unknown): void {
  forEachScalar(bytes, (field, value) => {
    if (value instanceof Uint8Array) visit(field, value);
  });
}

/**
 * Walks one message's fields: varints as numbers (negative or past 2^53 refused: no size we
 * accept is that large), length-delimited fields as views into `bytes`, fixed 32/64-bit skipped.
 */
function forEachScalar(bytes: Uint8Array, visit: (field: number, value: Uint8Array | number | undefined) => void): void {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) throw invalid('truncated varint');
      const b = bytes[pos++] as number;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) throw invalid('varint out of range');
        return result;
      }
      scale *= 128;
    }
    throw invalid('varint too long');
  };
  while (pos < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw invalid('field number 0');
    if (wire === 0) visit(field, varint());
    else if (wire === 2) {
      const len = varint();
      if (pos + len > bytes.length) throw invalid('truncated field');
      visit(field, bytes.subarray(pos, pos + len));
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > bytes.length) throw invalid('truncated field');
      visit(field, undefined);
    } else throw invalid(`wire type ${wire} is not used by this message`);
  }
}

function invalid(detail: string): BadRequestError {
  return new BadRequestError(`not a valid ActionResult: ${detail}`, 'invalid_action_result');
}
