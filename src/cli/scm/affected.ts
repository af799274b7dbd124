import { checkRevision, type GitRange } from '../workspace/filter-parse.js';
import type { Git } from './git.js';

type Env = Readonly<Record<string, string | undefined>>;

const set = (v: string | undefined): v is string => v !== undefined && v !== '';

/**
 * The range `--affected` compares: `VELOCITY_SCM_BASE...VELOCITY_SCM_HEAD` when set, else the
 * default branch (origin/HEAD's target, else `main`, `master`, `origin/main`, `origin/master`) up to the working tree. A
 * three-dot range starts at the merge base, so commits made on the default branch since the
 * branch left it do not count. `null` (with the reason) when there is no base to compare with.
 */
export async function affectedRange(git: Git, env: Env): Promise<{ range: GitRange } | { range: null; reason: string }> {
  const to = set(env.VELOCITY_SCM_HEAD) ? checkRevision(env.VELOCITY_SCM_HEAD, 'VELOCITY_SCM_HEAD') : undefined;
  if (set(env.VELOCITY_SCM_BASE)) return { range: { from: checkRevision(env.VELOCITY_SCM_BASE, 'VELOCITY_SCM_BASE'), to } };
  const remote = await git.remoteDefaultBranch();
  // A CI checkout often has no local main: the remote's branches come last.
  for (const candidate of [remote, 'main', 'master', 'origin/main', 'origin/master']) {
    if (candidate !== null && (await git.exists(candidate))) return { range: { from: candidate, to } };
  }
  return { range: null, reason: 'no default branch found (origin/HEAD, main, master); set VELOCITY_SCM_BASE' };
}
