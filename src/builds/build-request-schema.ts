import { z } from 'zod';
import { BadRequestError } from '../errors.js';

/** Velox's own rule for `rr_version`: a release tag, `master`, or a commit hash. */
export const RR_VERSION_PATTERN = /^(v\d+\.\d+\.\d+.*|master|[a-f0-9]{7,40})$/;

/** GOOS / GOARCH values a RoadRunner binary can be built for. */
export const TARGET_OS = ['linux', 'darwin', 'windows', 'freebsd', 'openbsd', 'netbsd', 'dragonfly', 'solaris', 'illumos', 'aix'] as const;
export const TARGET_ARCH = ['amd64', 'arm64', '386', 'arm', 'ppc64', 'ppc64le', 's390x', 'riscv64', 'mips64', 'mips64le', 'loong64'] as const;

/**
 * A Go module path as Velox accepts it: a host with a dot, then path elements
 * (`github.com/roadrunner-server/http/v5`). No `..`, no spaces, no scheme: it reaches `go.mod`.
 */
export const MODULE_PATH_PATTERN = /^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}(\/[A-Za-z0-9_~+-][A-Za-z0-9._~+-]*)+$/;
/** A plugin tag: a version, a branch or a commit. */
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}$/;
/** A module version in `excludes` / `replaces`. */
export const VERSION_PATTERN = /^v\d+\.\d+\.\d+[0-9A-Za-z.+-]*$/;

const modulePath = z.string().regex(MODULE_PATH_PATTERN, 'must be a Go module path such as github.com/org/repo');
const tag = z
  .string()
  .regex(TAG_PATTERN, 'must be a version, branch or commit')
  .refine((s) => !s.includes('..'), 'must not contain ..');
/** `replaces` entries: a module path, optionally pinned (`github.com/org/repo@v1.2.3`). */
const moduleRef = z
  .string()
  .refine((s) => {
    const at = s.indexOf('@');
    if (at === -1) return MODULE_PATH_PATTERN.test(s);
    return MODULE_PATH_PATTERN.test(s.slice(0, at)) && VERSION_PATTERN.test(s.slice(at + 1));
  }, 'must be a Go module path, optionally with @version');

export const buildRequestSchema = z.strictObject({
  request_id: z.uuid('must be a UUID').optional(),
  rr_version: z.string().regex(RR_VERSION_PATTERN, 'must be vX.Y.Z, master or a commit hash'),
  target_platform: z.strictObject({
    os: z.enum(TARGET_OS, `must be one of ${TARGET_OS.join(', ')}`),
    arch: z.enum(TARGET_ARCH, `must be one of ${TARGET_ARCH.join(', ')}`),
  }),
  plugins: z
    .array(z.strictObject({ module_name: modulePath, tag }))
    .min(1, 'must list at least one plugin')
    .max(200, 'must list at most 200 plugins'),
  replaces: z.array(z.strictObject({ new: moduleRef, old: moduleRef })).max(200).optional(),
  excludes: z
    .array(z.strictObject({ module: modulePath, version: z.string().regex(VERSION_PATTERN, 'must be vX.Y.Z') }))
    .max(200)
    .optional(),
  race: z.boolean().optional(),
  debug: z.boolean().optional(),
  force_rebuild: z.boolean().optional(),
});

export type BuildRequest = z.infer<typeof buildRequestSchema>;

/** `plugins[0].module_name`: the field at fault, as a client wrote it. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(body)' : out;
}

/** Validates a Velox `BuildRequest`; a 400 names every field at fault. */
export function parseBuildRequest(body: unknown): BuildRequest {
  const result = buildRequestSchema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `${issue.keys.map((k) => fieldPath([...issue.path, k])).join(', ')}: unknown field`;
    }
    return `${fieldPath(issue.path)}: ${issue.message}`;
  });
  throw new BadRequestError(`invalid build request: ${problems.join('; ')}`, 'invalid_build_request');
}
