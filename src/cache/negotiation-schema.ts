import { z } from 'zod';
import { MD5_BASE64, SHA256_HEX } from '../storage/artifact-meta.js';
import { HASH_PATTERN, NAMESPACE_PATTERN } from '../storage/object-keys.js';
import { BadRequestError } from '../errors.js';

const hash = z.string({ error: 'must be a string' }).regex(HASH_PATTERN, `must match ${HASH_PATTERN.source}`);
const namespace = z.string({ error: 'must be a string' }).regex(NAMESPACE_PATTERN, `must match ${NAMESPACE_PATTERN.source}`);
const size = z.number({ error: 'must be a number' }).int('must be a whole number').nonnegative('must not be negative');
const md5 = z.string().regex(MD5_BASE64, 'must be a base64 MD5 (24 characters)');

export const MAX_PARTS = 10_000;
export const MAX_BATCH = 1000;

export const negotiateRequestSchema = z.strictObject({
  hash,
  action: z.enum(['download', 'upload'], { error: 'must be "download" or "upload"' }),
  namespace: namespace.optional(),
  size: size.optional(),
  sha256: z.string().regex(SHA256_HEX, 'must be a lowercase hex SHA-256 (64 characters)').optional(),
  md5: md5.optional(),
  parts: z
    .array(z.strictObject({ size: size.positive('must be positive'), md5 }))
    .min(1, 'must not be empty')
    .max(MAX_PARTS, `must have at most ${MAX_PARTS} parts`)
    .optional(),
});
export type NegotiateRequest = z.infer<typeof negotiateRequestSchema>;

export const batchRequestSchema = z.strictObject({
  items: z
    .array(z.unknown(), { error: 'must be an array' })
    .min(1, 'must not be empty')
    .max(MAX_BATCH, `must have at most ${MAX_BATCH} items`),
});

const etag = z.string().min(1).max(128);
export const completeRequestSchema = z.strictObject({
  hash,
  namespace: namespace.optional(),
  upload_id: z.string().min(1).max(128),
  parts: z.array(z.strictObject({ part_number: z.number().int().min(1).max(MAX_PARTS), etag })).min(1).max(MAX_PARTS),
});
export type CompleteRequest = z.infer<typeof completeRequestSchema>;

export const abortRequestSchema = z.strictObject({
  hash,
  namespace: namespace.optional(),
  upload_id: z.string().min(1).max(128),
});
export type AbortRequest = z.infer<typeof abortRequestSchema>;

/** Parses or throws a 400 whose message names every field at fault. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, code = 'bad_request'): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new BadRequestError(formatIssues(r.error), code);
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.');
      if (i.code === 'unrecognized_keys') return `${path ? `${path}: ` : ''}unknown field(s) ${i.keys.join(', ')}`;
      return `${path || '(body)'}: ${i.message}`;
    })
    .join('; ');
}
