import { z } from 'zod';
import { duration, flag, httpUrl, int, list, urlWithScheme } from '../config/zod-fields.js';
import { TARGET_ARCH, TARGET_OS } from './build-request-schema.js';

export interface TargetPlatform {
  readonly os: string;
  readonly arch: string;
}

/** `linux/amd64` -> `{os, arch}`, or null when either is not one a build request accepts. */
export function parsePlatform(value: string): TargetPlatform | null {
  const [os = '', arch = '', ...rest] = value.split('/');
  if (rest.length > 0) return null;
  if (!(TARGET_OS as readonly string[]).includes(os) || !(TARGET_ARCH as readonly string[]).includes(arch)) return null;
  return { os, arch };
}

/**
 * Build settings (queue, worker, builders). Merged into the main config schema under `builds`;
 * environment names are listed in BUILD_ENV_PATHS (paths relative to the root config).
 * Durations named `*Timeout` are seconds; retry delays are milliseconds (as the Velox middleware's).
 */
export const buildsConfigSchema = z
  .strictObject({
    /** BullMQ on this Redis when set; the in-process queue otherwise. */
    redisUrl: urlWithScheme('redis', 'rediss').optional(),
    /**
     * Seconds (or `500ms`, `2s`) one queue call may take (a Redis command, a connect, a whole queue
     * operation of the gateway) before it counts as an outage: 503 `queue_unavailable`, `/readyz`
     * not ready.
     */
    redisTimeout: duration(0.05, 60).default(3),
    /** Prefix of every Redis key the build queue uses. */
    redisPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_:-]{1,64}$/)
      .default('velocity'),
    /** Velox server base URL (`velox` builder). */
    veloxUrl: httpUrl.optional(),
    /**
     * Seconds a Velox build waits for an identical build another client runs on that Velox
     * (`already_exists`), asking again with the retry backoff. 0: as long as one attempt may take
     * (`requestTimeout`), which covers one build.
     */
    veloxBusyWait: int(0, 86_400).default(0),
    /**
     * `os/arch` of a request without `target_platform`. Velox fills in its host's platform; the
     * build key must not depend on which server builds, so Velocity fills in this one (gateways
     * and workers must agree on it) and sends it to Velox explicitly.
     */
    defaultPlatform: z
      .string()
      .regex(/^[a-z0-9]{1,16}\/[a-z0-9]{1,16}$/, 'must be os/arch, e.g. linux/amd64')
      .refine((s) => parsePlatform(s) !== null, 'must be a target_platform a build request accepts')
      .default('linux/amd64'),
    /** Shell command that builds a binary (`command` builder); see docs/builds.md. */
    command: z.string().min(1).optional(),
    /**
     * Variables the build command gets from the worker's environment besides the safe set (see
     * command-env.ts). Velocity's own `VC_*` settings, secrets among them, are never passed.
     */
    env: list
      .pipe(
        z.array(
          z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name')
            .refine((name) => !name.toUpperCase().startsWith('VC_'), 'VC_* variables are Velocity\'s own settings and never reach a build command'),
        ),
      )
      .default([]),
    /** Where the command builder writes its outputs (a fresh directory per build). */
    workDir: z.string().min(1).optional(),
    /** Namespace the binaries are stored under. */
    namespace: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/)
      .default('builds'),
    /** Builds running at once per worker: the most build slots it makes. */
    concurrency: int(1, 256).default(2),
    /** Build slots kept ready even when idle (at most `concurrency`); more are made on demand. */
    minSlots: int(0, 256).default(1),
    /** Seconds a slot above `minSlots` may stay unused before it is retired (its builder closed). */
    slotIdleTimeout: duration(1, 86_400).default(60),
    /** A build slot is torn down and set up again after this many builds (0: never). */
    recycleAfter: int(0, 1_000_000).default(0),
    /** Builds waiting or running beyond which a miss answers 503 (0: unbounded). */
    maxQueue: int(0, 1_000_000).default(100),
    /** Seconds a build may wait in the queue before it fails (0: no limit). */
    queueTimeout: int(0, 86_400).default(0),
    /** Seconds one build may take, all attempts together; also bounds an intercepted client's wait. */
    buildTimeout: int(1, 86_400).default(900),
    /** Seconds one attempt (one Velox call, one command run) may take. */
    requestTimeout: int(1, 86_400).default(600),
    maxAttempts: int(1, 100).default(3),
    /** Milliseconds before the first retry. */
    initialDelay: int(0, 3_600_000).default(1000),
    /** Milliseconds: no retry waits longer. */
    maxDelay: int(0, 3_600_000).default(30_000),
    backoffMultiplier: z.coerce.number().min(1).max(100).default(2),
    /** Run a worker inside the gateway. Default: on without Redis (embedded), off with it. */
    inProcessWorker: flag.optional(),
    /** Milliseconds a worker holds a job's lock; a dead worker's job is picked up again after it. */
    lockDuration: int(1000, 3_600_000).default(30_000),
    /** Lines of build output kept and shown with a build's status. */
    logsTail: int(1, 10_000).default(50),
    /**
     * Port of `velocity-worker`'s own HTTP server (`/healthz`, `/readyz`, `/metrics`), on VC_HOST.
     * 0 takes any free port (logged), as VC_PORT does; there is no "off": a worker nobody can
     * probe or scrape loses its build metrics.
     */
    workerPort: int(0, 65535).default(9091),
    /** Reverse-proxied application whose `X-Velox-Build` answers are intercepted. */
    upstreamUrl: httpUrl.optional(),
  })
  .prefault({});

export type BuildsConfig = z.infer<typeof buildsConfigSchema>;

export const BUILD_ENV_PATHS: Readonly<Record<string, string>> = {
  VC_REDIS_URL: 'builds.redisUrl',
  VC_REDIS_PREFIX: 'builds.redisPrefix',
  VC_REDIS_TIMEOUT: 'builds.redisTimeout',
  VC_VELOX_URL: 'builds.veloxUrl',
  VC_VELOX_BUSY_WAIT: 'builds.veloxBusyWait',
  VC_BUILD_DEFAULT_PLATFORM: 'builds.defaultPlatform',
  VC_BUILD_COMMAND: 'builds.command',
  VC_BUILD_WORK_DIR: 'builds.workDir',
  VC_BUILD_ENV: 'builds.env',
  VC_BUILD_NAMESPACE: 'builds.namespace',
  VC_BUILD_CONCURRENCY: 'builds.concurrency',
  VC_BUILD_MIN_SLOTS: 'builds.minSlots',
  VC_BUILD_SLOT_IDLE_TIMEOUT: 'builds.slotIdleTimeout',
  VC_BUILD_RECYCLE_AFTER: 'builds.recycleAfter',
  VC_BUILD_MAX_QUEUE: 'builds.maxQueue',
  VC_BUILD_QUEUE_TIMEOUT: 'builds.queueTimeout',
  VC_BUILD_TIMEOUT: 'builds.buildTimeout',
  VC_BUILD_REQUEST_TIMEOUT: 'builds.requestTimeout',
  VC_BUILD_MAX_ATTEMPTS: 'builds.maxAttempts',
  VC_BUILD_INITIAL_DELAY: 'builds.initialDelay',
  VC_BUILD_MAX_DELAY: 'builds.maxDelay',
  VC_BUILD_BACKOFF_MULTIPLIER: 'builds.backoffMultiplier',
  VC_BUILD_IN_PROCESS_WORKER: 'builds.inProcessWorker',
  VC_BUILD_LOCK_DURATION: 'builds.lockDuration',
  VC_BUILD_LOGS_TAIL: 'builds.logsTail',
  VC_UPSTREAM_URL: 'builds.upstreamUrl',
  VC_WORKER_PORT: 'builds.workerPort',
};

/** Which builder the configuration selects; `none` serves hits only. */
export type BuilderKind = 'velox' | 'command' | 'none';

export function builderKind(config: BuildsConfig): BuilderKind {
  if (config.veloxUrl) return 'velox';
  if (config.command) return 'command';
  return 'none';
}

export function runsInProcessWorker(config: BuildsConfig): boolean {
  return config.inProcessWorker ?? config.redisUrl === undefined;
}
