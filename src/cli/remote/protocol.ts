/**
 * Wire shapes of the gateway API (docs/api.md), as the CLI uses them. Every answer is checked
 * with these schemas before it is used: a gateway (or anything posing as one) that answers
 * `{"results":[null]}`, a numeric sha256 or `multipart.parts: null` makes the remote
 * unavailable for the run (one warning), never an unexpected error.
 */
import { z } from 'zod';

const SHA256_HEX = /^[0-9a-f]{64}$/;

const httpUrl = z.string().refine((value) => {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL');
const byteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const headers = z.record(z.string(), z.string());

export const capabilitiesSchema = z.object({
  driver: z.string(),
  integrity: z.enum(['sha256', 'md5']),
  conditional_writes: z.boolean(),
  multipart_threshold: byteCount,
  max_artifact_size: byteCount,
  presign_ttl: z.number().nonnegative(),
});

const foundSchema = z.object({
  status: z.literal('found'),
  url: httpUrl,
  expires_at: z.string().optional(),
  size: byteCount,
  sha256: z.string().regex(SHA256_HEX, 'must be a lowercase hex SHA-256'),
});

const multipartPartSchema = z.object({
  part_number: z.number().int().min(1).max(10_000),
  url: httpUrl,
  method: z.string(),
  headers,
});

const uploadNeededSchema = z
  .object({
    status: z.literal('upload_needed'),
    expires_at: z.string().optional(),
    url: httpUrl.optional(),
    method: z.string().optional(),
    headers: headers.optional(),
    multipart: z.object({ upload_id: z.string().min(1), parts: z.array(multipartPartSchema).min(1) }).optional(),
  })
  .refine((a) => a.multipart !== undefined || (a.url !== undefined && a.headers !== undefined), 'needs a url and headers, or multipart');

export const negotiateAnswerSchema = z.discriminatedUnion('status', [
  foundSchema,
  z.object({ status: z.literal('missing') }),
  uploadNeededSchema,
  z.object({ status: z.literal('skipped') }),
  z.object({ status: z.literal('error'), code: z.string(), message: z.string() }),
]);

export const batchAnswerSchema = z.object({ results: z.array(negotiateAnswerSchema) });

export const completeAnswerSchema = z.object({ status: z.string() });

export type Capabilities = z.infer<typeof capabilitiesSchema>;
export type FoundAnswer = z.infer<typeof foundSchema>;
export type MultipartPart = z.infer<typeof multipartPartSchema>;
export type UploadNeededAnswer = z.infer<typeof uploadNeededSchema>;
export type NegotiateAnswer = z.infer<typeof negotiateAnswerSchema>;

export interface DownloadRequest {
  hash: string;
  action: 'download';
  namespace: string;
}

export interface UploadRequest {
  hash: string;
  action: 'upload';
  namespace: string;
  size: number;
  sha256: string;
  md5?: string;
  parts?: Array<{ size: number; md5: string }>;
}

export type NegotiateRequest = DownloadRequest | UploadRequest;

/** Largest batch the gateway accepts in one request. */
export const MAX_BATCH = 1000;
/** Part size used for multipart uploads (the store's minimum is 5 MiB). */
export const PART_SIZE = 16 * 1024 * 1024;
