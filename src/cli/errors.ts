import { VelocityError } from '../errors.js';

/**
 * Errors the CLI throws. Only `cli/main.ts` turns them into messages and exit codes; every other
 * module throws and lets the boundary decide.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
} as const;

/** Bad command line: unknown task, bad flag value. */
export class UsageError extends VelocityError {
  constructor(message: string) {
    super(message, { status: 400, code: 'usage' });
  }
}

/** `velocity.yml` (or a package manifest) is missing or invalid; lists every problem with its path. */
export class ProjectConfigError extends VelocityError {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super(`${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      status: 400,
      code: 'invalid_project_config',
    });
    this.problems = problems;
  }
}

/** The task graph has a cycle; the message names it, e.g. `a#build -> b#build -> a#build`. */
export class TaskCycleError extends VelocityError {
  readonly cycle: readonly string[];
  constructor(cycle: readonly string[]) {
    super(`task dependency cycle: ${cycle.join(' -> ')}`, { status: 400, code: 'task_cycle' });
    this.cycle = cycle;
  }
}

/** A task's command failed; the run exits with the task's exit code. */
export class TaskFailedError extends VelocityError {
  readonly taskId: string;
  readonly exitCode: number;
  constructor(taskId: string, exitCode: number) {
    super(`task ${taskId} failed with exit code ${exitCode}`, { status: 500, code: 'task_failed', expose: true });
    this.taskId = taskId;
    this.exitCode = exitCode;
  }
}

/** `velocity doctor` found problems (they were already printed). */
export class DoctorFailedError extends VelocityError {
  constructor(problems: number) {
    super(`doctor found ${problems} problem${problems === 1 ? '' : 's'}`, { status: 500, code: 'doctor_failed', expose: true });
  }
}

/**
 * The remote cache cannot be used right now (unreachable, timeout, 5xx/503, bad token, missing
 * scope). Never a miss and never a failed run: the caller warns once and carries on without it.
 */
export class RemoteUnavailableError extends VelocityError {
  readonly hint: string | undefined;
  constructor(message: string, opts: { hint?: string; cause?: unknown; status?: number } = {}) {
    super(message, { status: opts.status ?? 503, code: 'remote_unavailable', expose: true, cause: opts.cause });
    this.hint = opts.hint;
  }
}

/** An artifact could not be used (digest mismatch, damaged archive): a warning and a miss. */
export class ArtifactIntegrityError extends VelocityError {
  constructor(message: string, cause?: unknown) {
    super(message, { status: 500, code: 'artifact_integrity', expose: true, cause });
  }
}

/**
 * Git could not answer what changed: not a repository, git missing, a revision it does not know,
 * no merge base. A `[range]` selector fails with it; `--affected` warns and runs everything.
 */
export class ScmError extends VelocityError {
  /** `unusable`: no git or no repository, so nothing else git could say would help. */
  readonly kind: 'unusable' | 'failed';
  constructor(message: string, kind: 'unusable' | 'failed', cause?: unknown) {
    super(message, { status: 400, code: 'scm', expose: true, cause });
    this.kind = kind;
  }
}
