import { z } from 'zod';
import { byteSize, flag, httpUrl, int } from '../../config/zod-fields.js';

const url = httpUrl;

/** The S3 driver's settings (`storage.s3`), owned here and composed by config/schema.ts. */
export const s3ConfigSchema = z
  .strictObject({
    endpoint: url.optional(),
    /** Endpoint clients reach the store at, when it differs from `endpoint` (presigned URLs name it). */
    publicEndpoint: url.optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().min(3).max(63).optional(),
    forcePathStyle: flag.default(false),
    createBucket: flag.default(false),
    integrity: z.enum(['sha256', 'md5']).default('sha256'),
    conditionalWrites: flag.default(true),
    /** Seconds a single store call may take before it counts as an outage. */
    timeout: int(1, 300).default(10),
    /**
     * Streamed uploads (client protocols): bodies up to this size go in one PutObject, larger or
     * chunked ones in parts of this size (S3 takes 5 MiB to 5 GiB; at most 10,000 parts, so the
     * default takes artifacts up to 50 GB). The smallest part keeps a gateway's memory lowest: a
     * 1 GiB upload through a gateway process peaked 15 MB lower than with 8 MiB parts.
     */
    ingestPartSize: byteSize(5 * 1024 ** 2, 5 * 1024 ** 3).default(5 * 1024 ** 2),
    /** Parts of one streamed upload sent at once: memory per upload is (this + 1) x the part size. */
    ingestConcurrency: int(1, 16).default(2),
  })
  .prefault({});

export type S3Config = z.infer<typeof s3ConfigSchema>;

export const S3_ENV_PATHS: Readonly<Record<string, string>> = {
  VC_S3_ENDPOINT: 'storage.s3.endpoint',
  VC_S3_PUBLIC_ENDPOINT: 'storage.s3.publicEndpoint',
  VC_S3_REGION: 'storage.s3.region',
  VC_S3_BUCKET: 'storage.s3.bucket',
  VC_S3_FORCE_PATH_STYLE: 'storage.s3.forcePathStyle',
  VC_S3_CREATE_BUCKET: 'storage.s3.createBucket',
  VC_S3_INTEGRITY: 'storage.s3.integrity',
  VC_S3_CONDITIONAL_WRITES: 'storage.s3.conditionalWrites',
  VC_S3_TIMEOUT: 'storage.s3.timeout',
  VC_S3_INGEST_PART_SIZE: 'storage.s3.ingestPartSize',
  VC_S3_INGEST_CONCURRENCY: 'storage.s3.ingestConcurrency',
};
