import { z } from 'zod';
import { LOCAL_ENV_PATHS, localConfigSchema } from './local/local-config.js';
import { S3_ENV_PATHS, s3ConfigSchema } from './s3/s3-config.js';

/**
 * The drivers there are. Each owns its config section (a schema fragment in its own folder); a
 * new driver adds its name here, its section below, a case to createStorageDriver, and one line
 * to the contract suite (test/contract/drivers.ts).
 */
export const STORAGE_DRIVERS = ['local', 's3'] as const;
export type StorageDriverName = (typeof STORAGE_DRIVERS)[number];

export const storageConfigSchema = z
  .strictObject({
    driver: z.enum(STORAGE_DRIVERS).default('local'),
    local: localConfigSchema,
    s3: s3ConfigSchema,
  })
  .prefault({});

export type StorageConfig = z.infer<typeof storageConfigSchema>;

export const STORAGE_ENV_PATHS: Readonly<Record<string, string>> = {
  VC_STORAGE_DRIVER: 'storage.driver',
  ...LOCAL_ENV_PATHS,
  ...S3_ENV_PATHS,
};
