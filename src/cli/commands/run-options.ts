import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import { LOG_ORDERS, OUTPUT_LOGS, type LogOrder, type OutputLogs } from '../report/task-log.js';
import { ENV_MODES, type EnvMode } from '../run/task-env.js';

/** `velocity run`'s flags as commander hands them over (values unchecked). */
export interface RunCommandOptions {
  tasks: string[];
  concurrency?: string | undefined;
  force?: boolean | undefined;
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
  filter?: string[] | undefined;
  affected?: boolean | undefined;
  remote?: boolean | undefined;
  envMode?: string | undefined;
  continue?: boolean | undefined;
  outputLogs?: string | undefined;
  logOrder?: string | undefined;
  summarize?: boolean | undefined;
  /** `--graph` (true: DOT on stdout) or `--graph=file`. */
  graph?: string | boolean | undefined;
  /** The whole command line, for the run summary. */
  argv?: readonly string[] | undefined;
}

function oneOf<T extends string>(flag: string, allowed: readonly T[], value: string | undefined, fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

export const parseEnvMode = (value: string | undefined): EnvMode => oneOf('--env-mode', ENV_MODES, value, 'strict');

export const parseOutputLogs = (value: string | undefined): OutputLogs => oneOf('--output-logs', OUTPUT_LOGS, value, 'full');

export const parseLogOrder = (value: string | undefined): LogOrder => oneOf('--log-order', LOG_ORDERS, value, 'stream');

export function parseConcurrency(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency must be a positive integer, got "${value}"`);
  return n;
}
