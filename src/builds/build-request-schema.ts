import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { protoNames } from './build-request-names.js';

/*
 * Every pattern here is linear: no two adjacent quantified parts can match the same character, so
 * a failed match never retries a split of the input. The old `\d+.*` (rr_version) and
 * `\d+[0-9A-Za-z.+-]*` (versions) could, and took quadratic time: one 100 KB rr_version blocked
 * the event loop for 9.4 s. On top of that every string's length is checked before any pattern
 * runs (`bounded` below), so no field costs more than a few microseconds.
 */

/** Longest accepted strings, far above any real value (Go's own module path limit is 500 bytes). */
export const MAX_VERSION_CHARS = 128;
export const MAX_MODULE_PATH_CHARS = 300;
/** `replaces` entries: a module path, `@`, a version. */
export const MAX_MODULE_REF_CHARS = MAX_MODULE_PATH_CHARS + 1 + MAX_VERSION_CHARS;
export const MAX_TAG_CHARS = 128;
export const MAX_LIST_ITEMS = 200;

/** `vX.Y.Z` and an optional semver-style suffix that starts with a non-digit (so `\d+` ends where it must). */
const SEMVER = String.raw`v\d+\.\d+\.\d+(?:[A-Za-z.+-][0-9A-Za-z.+-]*)?`;
/**
 * Velox's rule for `rr_version` (a release tag, `master`, or a commit hash), except that a tag's
 * suffix is limited to semver characters: the value is recorded in the binary's metadata headers.
 */
export const RR_VERSION_PATTERN = new RegExp(`^(?:${SEMVER}|master|[a-f0-9]{7,40})$`);

/** GOOS / GOARCH values a RoadRunner binary can be built for. */
export const TARGET_OS = ['linux', 'darwin', 'windows', 'freebsd', 'openbsd', 'netbsd', 'dragonfly', 'solaris', 'illumos', 'aix'] as const;
export const TARGET_ARCH = ['amd64', 'arm64', '386', 'arm', 'ppc64', 'ppc64le', 's390x', 'riscv64', 'mips64', 'mips64le', 'loong64'] as const;

/**
 * A Go module path as Velox accepts it: a host with a dot, then path elements
 * (`github.com/roadrunner-server/http/v5`). No `..`, no spaces, no scheme: it reaches `go.mod`.
 * The host is dot-separated labels (a label cannot hold a dot, so labels split one way only),
 * the last one a TLD of letters.
 */
export const MODULE_PATH_PATTERN = /^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:\/[A-Za-z0-9_~+-][A-Za-z0-9._~+-]*)+$/;
/** A plugin tag: a version, a branch or a commit. */
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+/-]{0,127}$/;
/** A module version in `excludes` / `replaces`. */
export const VERSION_PATTERN = new RegExp(`^${SEMVER}$`);

/** A string whose length is checked first; the pattern never sees a longer one. */
function bounded(max: number, pattern: RegExp, message: string) {
  return z.string().max(max, { message: `must be at most ${max} characters`, abort: true }).regex(pattern, message);
}

const modulePath = bounded(MAX_MODULE_PATH_CHARS, MODULE_PATH_PATTERN, 'must be a Go module path such as github.com/org/repo');
const tag = bounded(MAX_TAG_CHARS, TAG_PATTERN, 'must be a version, branch or commit').refine(
  (s) => !s.includes('..'),
  'must not contain ..',
);
/** `replaces` entries: a module path, optionally pinned (`github.com/org/repo@v1.2.3`). */
const moduleRef = z
  .string()
  .max(MAX_MODULE_REF_CHARS, { message: `must be at most ${MAX_MODULE_REF_CHARS} characters`, abort: true })
  .refine((s) => {
    const at = s.indexOf('@');
    if (at === -1) return s.length <= MAX_MODULE_PATH_CHARS && MODULE_PATH_PATTERN.test(s);
    const path = s.slice(0, at);
    const version = s.slice(at + 1);
    return (
      path.length <= MAX_MODULE_PATH_CHARS &&
      version.length <= MAX_VERSION_CHARS &&
      MODULE_PATH_PATTERN.test(path) &&
      VERSION_PATTERN.test(version)
    );
  }, 'must be a Go module path, optionally with @version');

/**
 * A local directory as `replaces.new` (request.proto: "./foo, ../foo, or an absolute path. Local
 * paths must NOT carry @version"). One optional `.`/`..`, a slash, then path characters: linear.
 */
export const LOCAL_PATH_PATTERN = /^\.{0,2}\/[A-Za-z0-9._~+/-]*$/;
const replacement = z
  .string()
  .max(MAX_MODULE_REF_CHARS, { message: `must be at most ${MAX_MODULE_REF_CHARS} characters`, abort: true })
  .refine(
    (s) => (s.startsWith('.') || s.startsWith('/') ? LOCAL_PATH_PATTERN.test(s) : moduleRef.safeParse(s).success),
    'must be a Go module path, optionally with @version, or a local path (./dir, ../dir, /dir) without @version',
  );

/** protovalidate's `string.uuid`: any 8-4-4-4-12 hex digits, either case (no version or variant check). */
export const UUID_PATTERN = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** A list whose length is checked before its items are (a 256 KiB body holds thousands of items). */
function boundedList<T extends z.ZodType>(item: T, min = 0, minMessage?: string) {
  return z
    .array(z.unknown())
    .min(min, minMessage)
    .max(MAX_LIST_ITEMS, { message: `must list at most ${MAX_LIST_ITEMS} items`, abort: true })
    .pipe(z.array(item));
}

export const buildRequestSchema = z.strictObject({
  request_id: bounded(36, UUID_PATTERN, 'must be a UUID').optional(),
  rr_version: bounded(MAX_VERSION_CHARS, RR_VERSION_PATTERN, 'must be vX.Y.Z, master or a commit hash'),
  // Optional as in Velox, which builds for its host's platform; the build key takes the
  // configured default instead (VC_BUILD_DEFAULT_PLATFORM, see canonicalRequest).
  target_platform: z
    .strictObject({
      os: z.enum(TARGET_OS, `must be one of ${TARGET_OS.join(', ')}`),
      arch: z.enum(TARGET_ARCH, `must be one of ${TARGET_ARCH.join(', ')}`),
    })
    .optional(),
  plugins: boundedList(z.strictObject({ module_name: modulePath, tag }), 1, 'must list at least one plugin'),
  replaces: boundedList(z.strictObject({ new: replacement, old: moduleRef }))
    // Velox's rule (config.go: "replaces[%d]: duplicate old %q"): two replacements of one module
    // leave go.mod with the last one, which sorting would turn into another winner.
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((r, i) => {
        if (seen.has(r.old)) ctx.addIssue({ code: 'custom', path: [i, 'old'], message: `duplicate old ${JSON.stringify(r.old)}` });
        seen.add(r.old);
      });
    })
    .optional(),
  excludes: boundedList(z.strictObject({ module: modulePath, version: bounded(MAX_VERSION_CHARS, VERSION_PATTERN, 'must be vX.Y.Z') })).optional(),
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
export function parseBuildRequest(raw: unknown): BuildRequest {
  // Both JSON name forms and nulls, as Velox's protojson reads them (build-request-names.ts).
  const named = protoNames(raw, MAX_LIST_ITEMS);
  const result = buildRequestSchema.safeParse(named.body);
  const nameProblems = named.problems.map((p) => `${p.path}: ${p.message}`);
  if (result.success && nameProblems.length === 0) return result.data;
  const issues = result.success ? [] : result.error.issues;
  const problems = issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `${issue.keys.map((k) => fieldPath([...issue.path, k])).join(', ')}: unknown field`;
    }
    return `${fieldPath(issue.path)}: ${issue.message}`;
  });
  throw new BadRequestError(`invalid build request: ${[...nameProblems, ...problems].join('; ')}`, 'invalid_build_request');
}
