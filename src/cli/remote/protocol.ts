/** Wire types of the gateway API (docs/api.md), as the CLI uses them. */

export interface Capabilities {
  driver: string;
  integrity: 'sha256' | 'md5';
  conditional_writes: boolean;
  multipart_threshold: number;
  max_artifact_size: number;
  presign_ttl: number;
}

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

export interface FoundAnswer {
  status: 'found';
  url: string;
  expires_at: string;
  size: number;
  sha256: string;
}

export interface MultipartPart {
  part_number: number;
  url: string;
  method: string;
  headers: Record<string, string>;
}

export interface UploadNeededAnswer {
  status: 'upload_needed';
  expires_at: string;
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  multipart?: { upload_id: string; parts: MultipartPart[] };
}

export type NegotiateAnswer =
  | FoundAnswer
  | { status: 'missing' }
  | UploadNeededAnswer
  | { status: 'skipped' }
  | { status: 'error'; code: string; message: string };

/** Largest batch the gateway accepts in one request. */
export const MAX_BATCH = 1000;
/** Part size used for multipart uploads (the store's minimum is 5 MiB). */
export const PART_SIZE = 16 * 1024 * 1024;
