import type { StorageConfig } from './storage-config.js';
import type { StorageDriver } from './driver.js';
import { LocalDriver } from './local/local-driver.js';

export interface StorageDriverEnv {
  /** Base URL of this gateway, for drivers whose URLs point back to it (local). */
  readonly baseUrl: () => string;
  readonly now?: () => number;
}

/**
 * Builds the configured driver; call `init()` on it before use. A driver's modules are loaded only
 * when it is the one configured (the AWS SDK is about 20 MB of memory a local-disk gateway never needs).
 */
export async function createStorageDriver(config: StorageConfig, env: StorageDriverEnv): Promise<StorageDriver> {
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
    case 's3': {
      const { S3Driver } = await import('./s3/s3-driver.js');
      return new S3Driver(config.s3, env.now ? { now: env.now } : {});
    }
    default: {
      const never: never = driver;
      throw new Error(`unknown storage driver ${String(never)}`);
    }
  }
}
