import { z } from 'zod';
import { byteSize } from '../../config/zod-fields.js';

/** The local driver's settings (`storage.local`), owned here and composed by config/schema.ts. */
export const localConfigSchema = z
  .strictObject({
    root: z.string().min(1).default('.velocity-data'),
    /** Secret for the local driver's signed URLs; generated per process when unset. */
    signingSecret: z.string().min(32).optional(),
    /** Below this many free bytes on the local root, /readyz reports the store not ready. */
    minFreeBytes: byteSize(0, Number.MAX_SAFE_INTEGER).default(16 * 1024 * 1024),
  })
  .prefault({});

export type LocalConfig = z.infer<typeof localConfigSchema>;

export const LOCAL_ENV_PATHS: Readonly<Record<string, string>> = {
  VC_LOCAL_ROOT: 'storage.local.root',
  VC_LOCAL_SIGNING_SECRET: 'storage.local.signingSecret',
  VC_LOCAL_MIN_FREE_BYTES: 'storage.local.minFreeBytes',
};
