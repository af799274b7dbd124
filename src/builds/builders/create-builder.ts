import { builderKind, type BuildsConfig } from '../config.js';
import type { BuilderFactory } from './builder.js';
import { createCommandBuilder } from './command-builder.js';
import { createVeloxBuilder } from './velox-builder.js';

/**
 * A factory (one builder per slot, made again when a slot is recycled), or null when none is
 * configured. `sourceEnv` is where a build command's safe and declared variables come from.
 */
export function createBuilderFactory(
  config: BuildsConfig,
  sourceEnv: Readonly<Record<string, string | undefined>> = process.env,
): BuilderFactory | null {
  const kind = builderKind(config);
  switch (kind) {
    case 'velox': {
      const url = config.veloxUrl as string;
      return () => createVeloxBuilder({ url });
    }
    case 'command': {
      const command = config.command as string;
      return () => createCommandBuilder({ command, workDir: config.workDir, sourceEnv, passEnv: config.env });
    }
    case 'none':
      return null;
    default: {
      const never: never = kind;
      throw new Error(`unknown builder ${String(never)}`);
    }
  }
}

export const NO_BUILDER_MESSAGE =
  'no builder is configured: set VC_VELOX_URL (a Velox server sharing a volume with the worker) or ' +
  'VC_BUILD_COMMAND (a command that writes the binary to $VELOCITY_OUTPUT), and run velocity-worker ' +
  '(with VC_REDIS_URL) or the gateway alone (in-process worker)';
