import { availableParallelism } from 'node:os';
import { LocalCache, localCacheDir } from '../cache/local-cache.js';
import { loadProject, type RemoteSettings } from '../config/load.js';
import { TaskFailedError, UsageError } from '../errors.js';
import { buildTaskGraph, type TaskNode } from '../graph/task-graph.js';
import { FileHasher } from '../hashing/file-hash.js';
import { GitIgnoreMatcher } from '../hashing/gitignore.js';
import { computeGraphKeys, rootLockfiles, type TaskKey } from '../hashing/task-key.js';
import { wantsProgress, type CliIo } from '../io.js';
import { RemoteClient } from '../remote/client.js';
import { RemoteCache } from '../remote/remote-cache.js';
import { noProgress } from '../report/progress.js';
import { Reporter } from '../report/reporter.js';
import { createTimings } from '../report/timings.js';
import { runPipeline } from '../run/run-pipeline.js';
import { ENV_MODES, taskEnv, type EnvMode } from '../run/task-env.js';
import { printSummary, summarize } from '../run/summary.js';
import { discoverPackages } from '../workspace/discover.js';

export interface RunCommandOptions {
  tasks: string[];
  concurrency?: string | undefined;
  force?: boolean | undefined;
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
  filter?: string[] | undefined;
  remote?: boolean | undefined;
  envMode?: string | undefined;
}

export function parseEnvMode(value: string | undefined): EnvMode {
  if (value === undefined) return 'strict';
  if (!(ENV_MODES as readonly string[]).includes(value)) throw new UsageError(`--env-mode must be one of ${ENV_MODES.join(', ')}, got "${value}"`);
  return value as EnvMode;
}

export function parseConcurrency(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency must be a positive integer, got "${value}"`);
  return n;
}

/** `velocity run <task...>`: throws TaskFailedError (with the task's exit code) when a task fails. */
export async function runCommand(opts: RunCommandOptions, io: CliIo): Promise<void> {
  const started = io.now();
  const timings = createTimings(io.env);
  timings.mark('run command loaded');
  const concurrency = parseConcurrency(opts.concurrency);
  const envMode = parseEnvMode(opts.envMode);
  const project = await loadProject(io.cwd, io.env);
  timings.mark('config loaded');
  const packages = await discoverPackages(project.root, project.config.packages);
  const graph = buildTaskGraph({ packages, pipeline: project.config.pipeline, tasks: opts.tasks, filter: opts.filter });
  timings.mark('workspace and graph');
  const hasher = new FileHasher();
  // Every task runs in every package, so any task's outputs may appear in any package.
  const outputs = Object.values(project.config.pipeline).flatMap((t) => t.outputs);
  const keys: Map<string, TaskKey> = await computeGraphKeys(graph, {
    root: project.root,
    env: io.env,
    envMode,
    hasher,
    gitignore: new GitIgnoreMatcher(project.root),
    lockfiles: await rootLockfiles(project.root, hasher),
    outputsOf: () => outputs,
  });
  timings.mark('keys computed');
  const reporter = new Reporter(io.stderr);
  try {
    await runWith(reporter);
  } finally {
    // Buffered off a terminal: out before main() prints an error after it.
    reporter.flush();
    timings.flush(io.stderr);
  }

  async function runWith(reporter: Reporter): Promise<void> {
    if (opts.dryRun) {
      const { printDryRun } = await import('./dry-run.js');
      printDryRun(graph, keys, { json: opts.json === true, stdout: io.stdout, reporter });
      return;
    }

    const settings: RemoteSettings = opts.remote === false ? { enabled: false, reason: '--no-remote', unexpected: false } : project.remote;
    const progress = wantsProgress(io) ? (await import('../report/terminal-progress.js')).terminalProgress(io.stderr) : noProgress;
    const remote = settings.enabled
      ? new RemoteCache({
          client: new RemoteClient({
            url: settings.url,
            token: settings.token,
            timeoutMs: settings.timeoutMs,
            fetch: io.fetch,
            send: io.send,
            transfer: {
              idleTimeoutMs: settings.transfer.idle_timeout_ms,
              minBytesPerSecond: settings.transfer.min_bytes_per_second,
              windowMs: settings.transfer.window_ms,
            },
            clock: io.clock,
          }),
          namespace: settings.namespace,
          warn: (m) => reporter.warn(m),
          progress,
        })
      : null;
    if (!settings.enabled && settings.unexpected) {
      reporter.warn(`remote cache off: ${settings.reason}`);
    }
    if (envMode === 'loose') {
      reporter.warn('--env-mode=loose: tasks see the whole environment but only the variables in `env` enter their keys, so a cached result may depend on variables its key does not cover');
    }
    const envOf = (node: TaskNode): Record<string, string> =>
      taskEnv(io.env, {
        mode: envMode,
        declared: node.config.env,
        passThrough: [...project.config.pass_through_env, ...node.config.pass_through_env],
        secrets: project.remoteVariables,
        caseInsensitive: process.platform === 'win32',
      });

    let results;
    try {
      results = await runPipeline(
        graph,
        keys,
        { root: project.root, envOf, now: io.now, reporter, local: new LocalCache(localCacheDir(project.root, io.env)), remote, timings },
        { concurrency, force: opts.force === true },
      );
    } finally {
      progress.close();
    }
    const remoteState = remote
      ? { enabled: remote.enabled, problem: remote.problem?.message ?? null }
      : { enabled: false, problem: settings.enabled ? null : settings.reason };
    const summary = summarize(results, io.now() - started, remoteState, reporter.warnings);
    printSummary(summary, reporter);
    if (opts.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    timings.mark('summary printed');
    const failed = results.find((r) => r.status === 'failed');
    if (failed) throw new TaskFailedError(failed.id, failed.exitCode ?? 1);
  }
}
