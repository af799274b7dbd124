import type { ParameterizedContext } from 'koa';
import { BadRequestError } from '../../errors.js';
import type { ArtifactInfo } from '../../storage/driver.js';
import type { GatewayState } from '../state.js';

/**
 * What Turborepo's requests carry besides the hash, checked. Turborepo names its team with
 * `?slug=` (`--team`, `TURBO_TEAM`) or `?teamId=` (`TURBO_TEAMID`; the client sends it only when
 * it starts with `team_`); the team is the namespace, and `team_` is not part of it.
 */
export function turboTeam(ctx: ParameterizedContext<GatewayState>): string | undefined {
  const teamId = single(ctx, 'teamId');
  if (teamId !== undefined) {
    if (!teamId.startsWith('team_') || teamId.length === 'team_'.length) {
      throw new BadRequestError('teamId must start with team_ (the rest names the namespace)', 'invalid_team');
    }
    return teamId.slice('team_'.length);
  }
  return single(ctx, 'slug');
}

function single(ctx: ParameterizedContext<GatewayState>, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new BadRequestError(`${name} must be given once`, 'invalid_team');
  return value === undefined || value === '' ? undefined : value;
}

/** Names the facts are recorded under with the artifact (see ArtifactInfo.meta). */
const DURATION = 'duration';
const TAG = 'tag';

/** Milliseconds the task took (a u64 the client parses back); at most 15 digits. */
const DURATION_VALUE = /^\d{1,15}$/;
/**
 * Turborepo's tag is base64 of an HMAC-SHA256 (44 characters); Vercel accepts up to 600. Only
 * base64 characters: the value goes back out as a response header and into store metadata.
 */
const TAG_VALUE = /^[A-Za-z0-9+/=_-]{1,600}$/;

/** The `x-artifact-duration` and `x-artifact-tag` of an upload, checked, as artifact metadata. */
export function turboUploadMeta(ctx: ParameterizedContext<GatewayState>): Record<string, string> {
  const meta: Record<string, string> = {};
  const duration = ctx.get('x-artifact-duration').trim();
  if (duration !== '') {
    if (!DURATION_VALUE.test(duration)) throw new BadRequestError('x-artifact-duration must be whole milliseconds', 'invalid_duration');
    meta[DURATION] = String(Number(duration));
  }
  const tag = ctx.get('x-artifact-tag').trim();
  if (tag !== '') {
    if (!TAG_VALUE.test(tag)) throw new BadRequestError('x-artifact-tag must be base64, at most 600 characters', 'invalid_tag');
    meta[TAG] = tag;
  }
  return meta;
}

/** What a hit tells the client about the stored artifact: its duration and, when signed, its tag. */
export function turboHitHeaders(info: ArtifactInfo): Record<string, string> {
  const headers: Record<string, string> = { 'x-artifact-duration': info.meta?.[DURATION] ?? '0' };
  const tag = turboTag(info);
  if (tag !== undefined) headers['x-artifact-tag'] = tag;
  return headers;
}

export function turboTag(info: ArtifactInfo): string | undefined {
  const tag = info.meta?.[TAG];
  return tag !== undefined && TAG_VALUE.test(tag) ? tag : undefined;
}

/** `POST /v8/artifacts`: `{"hashes": [...]}`, at most this many. */
export const MAX_QUERY_HASHES = 500;

export function queryHashes(body: unknown): string[] {
  const hashes = (body as { hashes?: unknown } | null)?.hashes;
  if (!Array.isArray(hashes) || !hashes.every((h): h is string => typeof h === 'string')) {
    throw new BadRequestError('body must be {"hashes": [string, ...]}', 'invalid_query');
  }
  if (hashes.length > MAX_QUERY_HASHES) throw new BadRequestError(`at most ${MAX_QUERY_HASHES} hashes per query`, 'invalid_query');
  return [...new Set(hashes)];
}
