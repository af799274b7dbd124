import { BadRequestError } from '../errors.js';

const META_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const META_VALUE = /^[\x20-\x7e]{0,1024}$/;
/** Names the drivers use themselves; callers cannot set them. */
const RESERVED = new Set(['sha256', 'size', 'location', 'created-at', 'upload-id']);

/** Checks caller-supplied artifact metadata: it travels as HTTP headers, so it must be header-safe. */
export function checkArtifactMeta(meta: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(meta ?? {})) {
    if (!META_NAME.test(name) || RESERVED.has(name)) throw new BadRequestError(`metadata name ${JSON.stringify(name)} is not allowed`);
    if (!META_VALUE.test(value)) throw new BadRequestError(`metadata ${name} must be printable ASCII, at most 1024 characters`);
    out[name] = value;
  }
  return out;
}

export const SHA256_HEX = /^[a-f0-9]{64}$/;
export const MD5_BASE64 = /^[A-Za-z0-9+/]{22}==$/;

export function sha256HexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

export function md5Base64ToHex(b64: string): string {
  return Buffer.from(b64, 'base64').toString('hex');
}

/** S3 ETags of unencrypted single parts are the quoted hex MD5. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
}
