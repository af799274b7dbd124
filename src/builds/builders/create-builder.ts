import type { Logger } from 'pino';
import { builderKind, type BuildsConfig } from '../config.js';
import type { BuilderFactory } from './builder.js';
import { createCommandBuilder } from './command-builder.js';
import { VeloxCapabilityCheck } from './velox-capabilities.js';
import { createVeloxBuilder, veloxEndpoint } from './velox-builder.js';

/**
 * A factory (one builder per slot, made again when a slot is recycled), or null when none is
 * configured. `sourceEnv` is where a build command's safe and declared variables come from.
 */
export function createBuilderFactory(
  config: BuildsConfig,
  sourceEnv: Readonly<Record<string, string | undefined>> = process.env,
  opts: { readonly logger?: Logger; readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void> } = {},
): BuilderFactory | null {
  const kind = builderKind(config);
  switch (kind) {
    case 'velox': {
      const url = config.veloxUrl as string;
      // One capability check for all slots. The slot pool makes its builders when the worker
      // starts, so the first one probes the server then; a transport failure makes it probe again.
      const capabilities = new VeloxCapabilityCheck({
        endpoint: veloxEndpoint(url),
        onResult: (caps) => opts.logger?.info({ velox: new URL(url).origin, generation: caps.generation }, `Velox ${caps.detail}`),
      });
      let probed = false;
      const busyPolicy = {
        maxAttempts: config.maxAttempts,
        initialDelay: config.initialDelay,
        maxDelay: config.maxDelay,
        backoffMultiplier: config.backoffMultiplier,
      };
      return () => {
        if (!probed) {
          probed = true;
          capabilities.get().catch((err: unknown) => opts.logger?.warn({ err }, 'Velox capability probe failed; asking again before the next build'));
        }
        return createVeloxBuilder({
          url,
          capabilities,
          busyPolicy,
          sleep: opts.sleep,
          ...(config.veloxBusyWait > 0 ? { busyWaitMs: config.veloxBusyWait * 1000 } : {}),
        });
      };
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

/**
 * The gateway's own view of the Velox server's capabilities (null without a Velox builder): a
 * miss the server cannot build is refused with a 400 before it is queued. Probed again every
 * minute, since the gateway never calls Velox otherwise; the worker checks again before building.
 */
export function gatewayVeloxCheck(config: BuildsConfig): VeloxCapabilityCheck | null {
  if (builderKind(config) !== 'velox') return null;
  return new VeloxCapabilityCheck({ endpoint: veloxEndpoint(config.veloxUrl as string), maxAgeMs: 60_000 });
}

export const NO_BUILDER_MESSAGE =
  'no builder is configured: set VC_VELOX_URL (a Velox server sharing a volume with the worker) or ' +
  'VC_BUILD_COMMAND (a command that writes the binary to $VELOCITY_OUTPUT), and run velocity-worker ' +
  '(with VC_REDIS_URL) or the gateway alone (in-process worker)';
