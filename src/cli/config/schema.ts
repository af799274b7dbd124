import { z } from 'zod';
import { DEPENDENCY, ENV_NAME, NAMESPACE, TASK_NAME } from './patterns.js';

const taskSchema = z.strictObject({
  command: z.string().trim().min(1, 'must be a non-empty command'),
  inputs: z.array(z.string().min(1, 'must be a non-empty glob')).optional(),
  outputs: z.array(z.string().min(1, 'must be a non-empty glob')).default([]),
  depends_on: z
    .array(z.string().regex(DEPENDENCY, 'must be a task name, or ^name for the dependencies\' task'))
    .default([]),
  env: z.array(z.string().regex(ENV_NAME, 'must be an environment variable name')).default([]),
});

const remoteSchema = z.strictObject({
  enabled: z.boolean().default(true),
  url: z.string().default(''),
  token: z.string().default(''),
  namespace: z.string().regex(NAMESPACE, 'must match ^[a-z0-9][a-z0-9_-]{0,62}$').default('default'),
  timeout_ms: z.number().int().positive().max(600_000).default(15_000),
});

export const projectConfigSchema = z.strictObject({
  version: z.literal(1, 'must be 1'),
  remote: remoteSchema.optional(),
  packages: z.array(z.string().min(1, 'must be a non-empty glob')).optional(),
  pipeline: z
    .record(z.string().regex(TASK_NAME, 'task names use letters, digits and : . _ -'), taskSchema)
    .refine((p) => Object.keys(p).length > 0, 'must define at least one task'),
});

export type ProjectConfig = z.infer<typeof projectConfigSchema>;
export type TaskConfig = z.infer<typeof taskSchema>;
export type RemoteConfig = z.infer<typeof remoteSchema>;
