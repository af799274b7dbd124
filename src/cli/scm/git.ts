import { execFile } from 'node:child_process';
import { ScmError } from '../errors.js';
import type { GitRange } from '../workspace/filter-parse.js';

/**
 * What git gets of the environment: enough to find itself and the user's config, nothing that
 * redirects it (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE... from a hook or a CI step), messages in
 * English (they are matched below), never a prompt, and no optional index lock (a `git diff`
 * beside an editor's git must not fail on index.lock).
 */
const PASSED = ['PATH', 'HOME', 'USERPROFILE', 'SYSTEMROOT', 'TMPDIR', 'TEMP', 'TMP', 'XDG_CONFIG_HOME'];

export function gitEnv(source: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' };
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && PASSED.includes(name.toUpperCase())) env[name] = value;
  }
  return env;
}

const firstLine = (text: string): string => text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';

/** Runs git in one folder; answers stdout, or throws ScmError with git's own first line. */
export type GitRun = (args: readonly string[]) => Promise<string>;

export function gitRunner(cwd: string, env: Readonly<Record<string, string | undefined>>): GitRun {
  const childEnv = gitEnv(env);
  return (args) =>
    new Promise((resolve, reject) => {
      execFile('git', args, { cwd, env: childEnv, maxBuffer: 256 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new ScmError('git is not installed (or not on PATH)', 'unusable', err));
        const said = firstLine(stderr);
        if (/not a git repository/i.test(said)) return reject(new ScmError(`${cwd} is not in a git repository`, 'unusable', err));
        reject(new ScmError(`git ${args[0] ?? ''} failed: ${said || err.message}`, 'failed', err));
      });
    });
}

const splitZ = (out: string): string[] => out.split('\0').filter((f) => f !== '');

/** The questions the CLI asks git, in the folder of velocity.yml. */
export class Git {
  readonly #run: GitRun;

  constructor(run: GitRun) {
    this.#run = run;
  }

  /** Throws ScmError naming `rev` when it is not a commit git knows. */
  async verify(rev: string): Promise<void> {
    try {
      await this.#run(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    } catch (err) {
      if (err instanceof ScmError && err.kind === 'unusable') throw err;
      throw new ScmError(`git does not know the revision "${rev}" (a typo, or a shallow clone without it: fetch more history)`, 'failed', err);
    }
  }

  /** `true` when `rev` names a commit (a branch that exists, ...). */
  async exists(rev: string): Promise<boolean> {
    return this.verify(rev).then(
      () => true,
      (err: unknown) => {
        if (err instanceof ScmError && err.kind === 'unusable') throw err;
        return false;
      },
    );
  }

  /** origin/HEAD's target (`origin/main`), when the clone recorded one. */
  async remoteDefaultBranch(): Promise<string | null> {
    try {
      const ref = (await this.#run(['symbolic-ref', '--quiet', 'refs/remotes/origin/HEAD'])).trim();
      return ref.startsWith('refs/remotes/') ? ref.slice('refs/remotes/'.length) : null;
    } catch {
      return null;
    }
  }

  /**
   * Files changed in `range`, relative to this folder (POSIX), both sides of renames, deletions
   * included. `from...to` is git's three-dot diff: from their merge base to `to`. Without `to`,
   * the working tree is the end: staged, unstaged and untracked (not ignored) files count too.
   */
  async changedFiles(range: GitRange): Promise<Set<string>> {
    await this.verify(range.from);
    if (range.to !== undefined) await this.verify(range.to);
    const diff = ['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', '--relative'];
    const files = new Set(splitZ(await this.#run([...diff, `${range.from}...${range.to ?? 'HEAD'}`])));
    if (range.to === undefined) {
      for (const f of splitZ(await this.#run([...diff, 'HEAD']))) files.add(f);
      for (const f of splitZ(await this.#run(['ls-files', '-z', '--others', '--exclude-standard']))) files.add(f);
    }
    return files;
  }
}
