import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, VelocityError } from '../errors.js';
import { packageVersion } from '../metrics/package-version.js';
import { EXIT, TaskFailedError } from './errors.js';
import type { CliIo } from './io.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const CLI_ENV_HELP = `
Environment (docs/cli.md, "Environment"):
  VELOCITY_CACHE_DIR     local cache folder (default .velocity/cache)
  VELOCITY_DEBUG_TIMING  print when each phase finished
  VELOCITY_SCM_BASE      --affected: compare from this revision (default: the merge base with the default branch)
  VELOCITY_SCM_HEAD      --affected: compare up to this revision (default: the working tree)
  NO_COLOR, FORCE_COLOR  colour of task prefixes (default: on a terminal only)
  CI                     set: no progress bars
  and every variable velocity.yml's remote section names (e.g. \${VELOCITY_TOKEN})
`;

const FILTER_HELP =
  'only these packages (and what their tasks depend on): name, @scope/*, ./path, ./path/*, pkg... (and its dependencies), ...pkg (and its dependents), ^ to leave pkg out, [git-range], !selector; repeatable';

function buildProgram(io: CliIo, state: { verbose: boolean }, argv: readonly string[]): Command {
  const program = new Command('velocity')
    .description('A cached task runner for monorepos, backed by a velocity gateway.')
    .option('--cwd <dir>', 'run as if started in <dir>')
    .option('--verbose', 'show stack traces for errors')
    .version(packageVersion(), '-V, --version')
    .addHelpText('after', CLI_ENV_HELP)
    .exitOverride()
    // Asked-for output (help, version) on stdout, where `velocity --help | less` finds it.
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError(false)
    .allowExcessArguments(false);
  program.hook('preAction', (cmd) => {
    const globals = cmd.optsWithGlobals<{ verbose?: boolean; cwd?: string }>();
    state.verbose = globals.verbose === true;
  });
  const ioFor = (cmd: Command): CliIo => {
    const cwd = cmd.optsWithGlobals<{ cwd?: string }>().cwd;
    return cwd ? { ...io, cwd: resolve(io.cwd, cwd) } : io;
  };

  program
    .command('run')
    .description('run tasks from velocity.yml, restoring cached results')
    .argument('<task...>', 'pipeline tasks to run in every workspace package')
    .option('-c, --concurrency <n>', 'how many commands may run at once (default: CPU count)')
    .option('-f, --force', 'ignore the cache: run every task (a cache bypass; results are still stored)')
    .option('-n, --dry-run', 'list each task with its key and what went into it; run nothing')
    .option('--json', 'print a machine-readable summary on stdout')
    .option('-F, --filter <selector>', FILTER_HELP, collect)
    .option('--affected', 'only packages changed since the merge base with the default branch (or VELOCITY_SCM_BASE...VELOCITY_SCM_HEAD), and their dependents')
    .option('--continue', 'after a failure, keep running the tasks that do not depend on it; exit with the first failure\'s code')
    .option('--output-logs <mode>', 'full (default), hash-only, new-only, errors-only or none')
    .option('--log-order <order>', 'stream (default: lines as they come) or grouped (each task\'s output in one block when it ends)')
    .option('--summarize', 'write a JSON run summary to .velocity/runs/<id>.json')
    .option('--graph [file]', 'print the task graph (DOT) instead of running, or write it to file (.dot, .gv, .mmd, .mermaid)')
    .addOption(new Option('--no-remote', 'use the local cache only'))
    .option('--env-mode <mode>', 'strict (default): tasks see only declared, pass-through and safe variables; loose: the whole environment (warned)')
    .action(async (tasks: string[], opts: Record<string, unknown>, cmd: Command) => {
      // Commands load lazily: a CLI pays start-up time on every CI step.
      const { runCommand } = await import('./commands/run.js');
      await runCommand(
        {
          tasks,
          concurrency: opts.concurrency as string | undefined,
          force: opts.force as boolean | undefined,
          dryRun: opts.dryRun as boolean | undefined,
          json: opts.json as boolean | undefined,
          filter: opts.filter as string[] | undefined,
          affected: opts.affected as boolean | undefined,
          continue: opts.continue as boolean | undefined,
          outputLogs: opts.outputLogs as string | undefined,
          logOrder: opts.logOrder as string | undefined,
          summarize: opts.summarize as boolean | undefined,
          graph: opts.graph as string | boolean | undefined,
          remote: opts.remote as boolean | undefined,
          envMode: opts.envMode as string | undefined,
          argv,
        },
        ioFor(cmd),
      );
    });

  program
    .command('ls')
    .description('list the workspace packages and their folders')
    .option('-F, --filter <selector>', FILTER_HELP, collect)
    .option('--affected', 'only packages changed since the merge base with the default branch, and their dependents')
    .option('--output <format>', 'pretty (default) or json')
    .action(async (opts: { filter?: string[]; affected?: boolean; output?: string }, cmd: Command) => {
      const { lsCommand } = await import('./commands/ls.js');
      await lsCommand(opts, ioFor(cmd));
    });

  program
    .command('prune')
    .description('copy packages, their workspace dependencies and a pruned package-lock.json into a folder (for Docker builds)')
    .argument('<package...>', 'names of the packages to keep (with every workspace package they depend on)')
    .option('--out-dir <dir>', 'where to write, relative to the repository root; new or empty (default: out)')
    .option('--docker', 'write json/ (package.json files and the lockfile, for the npm ci layer) and full/ (everything)')
    .action(async (packages: string[], opts: { outDir?: string; docker?: boolean }, cmd: Command) => {
      const { pruneCommand } = await import('./commands/prune.js');
      await pruneCommand({ packages, outDir: opts.outDir, docker: opts.docker }, ioFor(cmd));
    });

  program
    .command('doctor')
    .description('check the configured remote cache: reachable, token, scopes, round trip, clock')
    .option('--json', 'print the checks as JSON on stdout')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { doctorCommand } = await import('./commands/doctor.js');
      await doctorCommand(opts, ioFor(cmd));
    });
  return program;
}

/**
 * The one error boundary of the CLI: commands throw, this maps errors to a message and an exit
 * code. Stack traces only with --verbose. Returns the exit code; never calls process.exit.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const state = { verbose: argv.includes('--verbose') };
  const program = buildProgram(io, state, argv);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    return report(err, io, state.verbose);
  }
}

function report(err: unknown, io: CliIo, verbose: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version asked for are not errors; commander has already printed its message.
    // `commander.help` with a non-zero code is help shown for a missing command (bare `velocity`).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
    if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return EXIT.usage;
  }
  const trace = (): void => {
    if (verbose && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  };
  if (err instanceof TaskFailedError) {
    io.stderr.write(`velocity: ${err.message}\n`);
    trace();
    return err.exitCode === 0 ? EXIT.failure : err.exitCode;
  }
  if (err instanceof ConfigError) {
    io.stderr.write(`velocity: ${err.message}\n`);
    trace();
    return EXIT.usage;
  }
  if (err instanceof VelocityError && err.expose) {
    io.stderr.write(`velocity: ${err.message}\n`);
    trace();
    return err.status >= 400 && err.status < 500 ? EXIT.usage : EXIT.failure;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`velocity: unexpected error: ${message}\n`);
  if (verbose && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
  else io.stderr.write('velocity: run again with --verbose for details\n');
  return EXIT.failure;
}
