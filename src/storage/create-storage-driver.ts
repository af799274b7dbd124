import type { StorageConfig } from './storage-config.js';
import type { StorageDriver } from './driver.js';
import { LocalDriver } from './local/local-driver.js';
import { S3Driver } from './s3/s3-driver.js';

export interface StorageDriverEnv {
  /** Base URL of this gateway, for drivers whose URLs point back to it (local). */
  readonly baseUrl: () => string;
  readonly now?: () => number;
}

/** Builds the configured driver; call `init()` on it before use. */
export function createStorageDriver(config: StorageConfig, env: StorageDriverEnv): StorageDriver {
  const driver = config.driver;
  switch (driver) {
    case 'local':
      return new LocalDriver({
        root: config.local.root,
        baseUrl: env.baseUrl,
        signingSecret: config.local.signingSecret,
        minFreeBytes: config.local.minFreeBytes,
        ...(env.now ? { now: env.now } : {}),
      });
    case 's3':
      return new S3Driver(config.s3, env.now ? { now: env.now } : {});
    default: {
      const never: never = driver;
      throw new Error(`unknown storage driver ${String(never)}`);
    }
  }
}
