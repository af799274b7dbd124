import { z } from 'zod';
import { DEPENDENCY, ENV_NAME, ENV_PATTERN, NAMESPACE, TASK_NAME } from './patterns.js';

/** Variables a task sees without them entering its key: names, or a prefix ending in `*`. */
const passThroughSchema = z.array(z.string().regex(ENV_PATTERN, 'must be an environment variable name, or a prefix ending in *')).default([]);

const taskSchema = z.strictObject({
  command: z.string().trim().min(1, 'must be a non-empty command'),
  inputs: z.array(z.string().min(1, 'must be a non-empty glob')).optional(),
  outputs: z.array(z.string().min(1, 'must be a non-empty glob')).default([]),
  depends_on: z
    .array(z.string().regex(DEPENDENCY, 'must be a task name, or ^name for the dependencies\' task'))
    .default([]),
  env: z.array(z.string().regex(ENV_NAME, 'must be an environment variable name')).default([]),
  pass_through_env: passThroughSchema,
});

/** Stalled-transfer rules: a transfer that breaks one goes on without the remote. */
const transferSchema = z.strictObject({
  idle_timeout_ms: z.number().int().positive().max(3_600_000).default(30_000),
  min_bytes_per_second: z.number().int().nonnegative().default(1024),
  window_ms: z.number().int().positive().max(3_600_000).default(30_000),
});

const remoteSchema = z.strictObject({
  enabled: z.boolean().default(true),
  url: z.string().default(''),
  token: z.string().default(''),
  namespace: z.string().regex(NAMESPACE, 'must match ^[a-z0-9][a-z0-9_-]{0,62}$').default('default'),
  timeout_ms: z.number().int().positive().max(600_000).default(15_000),
  transfer: transferSchema.default({ idle_timeout_ms: 30_000, min_bytes_per_second: 1024, window_ms: 30_000 }),
});

export const projectConfigSchema = z.strictObject({
  version: z.literal(1, 'must be 1'),
  remote: remoteSchema.optional(),
  packages: z.array(z.string().min(1, 'must be a non-empty glob')).optional(),
  pass_through_env: passThroughSchema,
  pipeline: z
    .record(z.string().regex(TASK_NAME, 'task names use letters, digits and : . _ -'), taskSchema)
    .refine((p) => Object.keys(p).length > 0, 'must define at least one task'),
});

export type ProjectConfig = z.infer<typeof projectConfigSchema>;
export type TaskConfig = z.infer<typeof taskSchema>;
export type RemoteConfig = z.infer<typeof remoteSchema>;
export type TransferConfig = z.infer<typeof transferSchema>;
