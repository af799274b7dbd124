import { S3Client } from '@aws-sdk/client-s3';
import type { S3Config } from './s3-config.js';
import type { S3Location } from './s3-url-signer.js';

export function s3Location(config: S3Config, endpoint = config.endpoint): { location: S3Location; origin: string } {
  const base = new URL(endpoint ?? `https://s3.${config.region}.amazonaws.com`);
  const bucket = config.bucket as string;
  const hostname = config.forcePathStyle ? base.hostname : `${bucket}.${base.hostname}`;
  const port = base.port ? Number(base.port) : undefined;
  const protocol = base.protocol === 'http:' ? 'http:' : 'https:';
  return {
    location: { protocol, hostname, port, basePath: config.forcePathStyle ? `/${bucket}` : '' },
    origin: `${protocol}//${hostname}${port === undefined ? '' : `:${port}`}`,
  };
}

const SILENT_SDK_LOGGER = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export function createS3Client(config: S3Config): S3Client {
  return new S3Client({
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    // The default (WHEN_SUPPORTED) adds an empty-body CRC32 to every request and presigned URL,
    // which MinIO and R2 then check against the real body and reject.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 2,
    // The SDK writes to the console when a streamed request fails (a client that left, a body
    // refused mid-stream); the driver reports each failure itself, with its context.
    logger: SILENT_SDK_LOGGER,
    requestHandler: { requestTimeout: config.timeout * 1000, connectionTimeout: config.timeout * 1000 },
  });
}
