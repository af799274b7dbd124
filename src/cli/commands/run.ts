import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LocalCache, localCacheDir } from '../cache/local-cache.js';
import { loadProject, type LoadedProject, type RemoteSettings } from '../config/load.js';
import { TaskFailedError } from '../errors.js';
import { buildTaskGraph, type TaskGraph, type TaskNode } from '../graph/task-graph.js';
import { FileHasher } from '../hashing/file-hash.js';
import { GitIgnoreMatcher } from '../hashing/gitignore.js';
import { computeGraphKeys, rootLockfiles, type TaskKey } from '../hashing/task-key.js';
import { wantsProgress, type CliIo } from '../io.js';
import { RemoteClient } from '../remote/client.js';
import { RemoteCache } from '../remote/remote-cache.js';
import { colorEnabled } from '../report/colors.js';
import { formatGraph, graphFormatOf } from '../report/graph-format.js';
import { noProgress, type TransferProgress } from '../report/progress.js';
import { Reporter } from '../report/reporter.js';
import { TaskLogs } from '../report/task-log.js';
import { createTimings } from '../report/timings.js';
import { runPipeline } from '../run/run-pipeline.js';
import { taskEnv, type EnvMode } from '../run/task-env.js';
import { printSummary, summarize } from '../run/summary.js';
import { discoverPackages } from '../workspace/discover.js';
import { packageScope } from '../workspace/scope.js';
import { parseConcurrency, parseEnvMode, parseLogOrder, parseOutputLogs, type RunCommandOptions } from './run-options.js';

/** `velocity run <task...>`: throws TaskFailedError (with the first failure's exit code) when a task fails. */
export async function runCommand(opts: RunCommandOptions, io: CliIo): Promise<void> {
  const started = io.now();
  const timings = createTimings(io.env);
  timings.mark('run command loaded');
  const concurrency = parseConcurrency(opts.concurrency);
  const envMode = parseEnvMode(opts.envMode);
  const outputLogs = parseOutputLogs(opts.outputLogs);
  const logOrder = parseLogOrder(opts.logOrder);
  const graphFormat = typeof opts.graph === 'string' ? graphFormatOf(opts.graph) : 'dot';
  const project = await loadProject(io.cwd, io.env);
  timings.mark('config loaded');
  const reporter = new Reporter(io.stderr);
  try {
    const packages = await discoverPackages(project.root, project.config.packages);
    const scope = await packageScope(packages, { filters: opts.filter, affected: opts.affected }, { root: project.root, env: io.env, warn: (m) => reporter.warn(m) });
    const graph = buildTaskGraph({ packages, pipeline: project.config.pipeline, tasks: opts.tasks, filter: scope && [...scope] });
    timings.mark('workspace and graph');
    if (opts.graph !== undefined && opts.graph !== false) {
      const text = formatGraph(graph, graphFormat);
      if (typeof opts.graph !== 'string') io.stdout.write(text);
      else {
        const file = resolve(io.cwd, opts.graph);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, text);
        reporter.line(`Task graph (${graph.nodes.size} task${graph.nodes.size === 1 ? '' : 's'}) written to ${file}`);
      }
      return;
    }
    if (scope) {
      const names = [...scope].sort();
      reporter.line(names.length === 0 ? 'Packages in scope: none, nothing to run' : `Packages in scope: ${names.length > 20 ? `${names.slice(0, 20).join(', ')} and ${names.length - 20} more` : names.join(', ')}`);
    }
    const keys = await taskKeys(graph, project, io, envMode);
    timings.mark('keys computed');
    if (opts.dryRun) {
      const { printDryRun } = await import('./dry-run.js');
      printDryRun(graph, keys, { json: opts.json === true, stdout: io.stdout, reporter });
      return;
    }
    await execute({ opts, io, project, graph, keys, reporter, envMode, concurrency, started, timings, scope: scope ?? new Set(packages.map((p) => p.name)), logs: new TaskLogs({ outputLogs, logOrder, color: colorEnabled(io.env, io.stderr) }, (t) => reporter.write(t)) });
  } finally {
    // Buffered off a terminal: out before main() prints an error after it.
    reporter.flush();
    timings.flush(io.stderr);
  }
}

async function taskKeys(graph: TaskGraph, project: LoadedProject, io: CliIo, envMode: EnvMode): Promise<Map<string, TaskKey>> {
  const hasher = new FileHasher();
  // Every task runs in every package, so any task's outputs may appear in any package.
  const outputs = Object.values(project.config.pipeline).flatMap((t) => t.outputs);
  return computeGraphKeys(graph, {
    root: project.root,
    env: io.env,
    envMode,
    hasher,
    gitignore: new GitIgnoreMatcher(project.root),
    lockfiles: await rootLockfiles(project.root, hasher),
    outputsOf: () => outputs,
  });
}

interface Execution {
  opts: RunCommandOptions;
  io: CliIo;
  project: LoadedProject;
  graph: TaskGraph;
  keys: Map<string, TaskKey>;
  reporter: Reporter;
  logs: TaskLogs;
  envMode: EnvMode;
  concurrency: number;
  started: number;
  timings: ReturnType<typeof createTimings>;
  scope: ReadonlySet<string>;
}

function remoteCache(settings: RemoteSettings, io: CliIo, reporter: Reporter, progress: TransferProgress): RemoteCache | null {
  if (!settings.enabled) return null;
  return new RemoteCache({
    client: new RemoteClient({
      url: settings.url,
      token: settings.token,
      timeoutMs: settings.timeoutMs,
      fetch: io.fetch,
      send: io.send,
      transfer: { idleTimeoutMs: settings.transfer.idle_timeout_ms, minBytesPerSecond: settings.transfer.min_bytes_per_second, windowMs: settings.transfer.window_ms },
      clock: io.clock,
    }),
    namespace: settings.namespace,
    warn: (m) => reporter.warn(m),
    progress,
  });
}

async function execute(x: Execution): Promise<void> {
  const { opts, io, project, reporter } = x;
  const settings: RemoteSettings = opts.remote === false ? { enabled: false, reason: '--no-remote', unexpected: false } : project.remote;
  const progress = wantsProgress(io) ? (await import('../report/terminal-progress.js')).terminalProgress(io.stderr) : noProgress;
  const remote = remoteCache(settings, io, reporter, progress);
  if (!settings.enabled && settings.unexpected) reporter.warn(`remote cache off: ${settings.reason}`);
  if (x.envMode === 'loose') {
    reporter.warn('--env-mode=loose: tasks see the whole environment but only the variables in `env` enter their keys, so a cached result may depend on variables its key does not cover');
  }
  const envOf = (node: TaskNode): Record<string, string> =>
    taskEnv(io.env, {
      mode: x.envMode,
      declared: node.config.env,
      passThrough: [...project.config.pass_through_env, ...node.config.pass_through_env],
      secrets: project.remoteVariables,
      caseInsensitive: process.platform === 'win32',
    });

  let outcome;
  try {
    outcome = await runPipeline(
      x.graph,
      x.keys,
      { root: project.root, envOf, now: io.now, reporter, logs: x.logs, local: new LocalCache(localCacheDir(project.root, io.env)), remote, timings: x.timings },
      { concurrency: x.concurrency, force: opts.force === true, continueOnError: opts.continue === true },
    );
  } finally {
    progress.close();
  }
  const remoteState = remote ? { enabled: remote.enabled, problem: remote.problem?.message ?? null } : { enabled: false, problem: settings.enabled ? null : settings.reason };
  const ended = io.now();
  const summary = summarize(outcome.results, ended - x.started, remoteState, reporter.warnings, outcome.firstFailure);
  printSummary(summary, reporter);
  if (opts.summarize) {
    const { buildRunSummary, newRunId, writeRunSummary } = await import('../report/run-summary-file.js');
    const { packageVersion } = await import('../../metrics/package-version.js');
    const file = buildRunSummary({
      id: newRunId(x.started),
      argv: opts.argv ?? ['run', ...opts.tasks],
      velocityVersion: packageVersion(),
      requested: opts.tasks,
      start: x.started,
      end: ended,
      envMode: x.envMode,
      force: opts.force === true,
      continueOnError: opts.continue === true,
      filters: opts.filter ?? [],
      affected: opts.affected === true,
      packages: [...x.scope],
      graph: x.graph,
      keys: x.keys,
      outcome,
      summary,
    });
    try {
      reporter.line(` Summary:  ${await writeRunSummary(project.root, file)}`);
    } catch (err) {
      reporter.warn(`--summarize: could not write the run summary: ${(err as Error).message}`);
    }
  }
  if (opts.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  x.timings.mark('summary printed');
  if (outcome.firstFailure) throw new TaskFailedError(outcome.firstFailure.id, outcome.firstFailure.exitCode ?? 1);
}
