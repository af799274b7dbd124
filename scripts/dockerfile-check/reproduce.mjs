// Reproduces a parsed Dockerfile's stages into folders of a temporary root: each stage gets its
// own root, COPY takes files from the build context (honouring .dockerignore) or from an earlier
// stage's root (`--from`), RUN lines run with the stage's WORKDIR and ENV. External base images
// are not reproduced: the host's node, npm and shell stand in for the base image's.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerignoreMatcher } from './dockerignore.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The base image's environment before its ENV lines (the node images' PATH). */
const BASE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
/** Users the node base images define, by name and id. */
export const BASE_USERS = { root: 0, node: 1000 };

function expand(value, env) {
  return value.replace(/\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))/g, (_, braced, fallback, bare) => env[braced ?? bare] || fallback || '');
}

/** Absolute image paths under a top-level folder the stage created map into its root. */
export function mapPath(stageRoot, value) {
  return value
    .split(':')
    .map((part) => {
      if (!part.startsWith('/')) return part;
      const top = part.split('/')[1];
      return top && existsSync(join(stageRoot, top)) ? join(stageRoot, part) : part;
    })
    .join(':');
}

function imagePath(workdir, p) {
  return posix.resolve(workdir, p);
}

/** Copies `src` to `dest` as Docker does: a directory's contents, a file to a file or into a folder. */
function copyInto(src, dest, destIsDir, excluded) {
  const st = statSync(src);
  if (st.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    // From a stage nothing is excluded: cp is five times faster than cpSync on node_modules.
    if (!excluded) cpTree(src, dest);
    else cpSync(src, dest, { recursive: true, verbatimSymlinks: true, filter: (from) => !excluded(from) });
    return;
  }
  const target = destIsDir ? join(dest, src.split('/').at(-1)) : dest;
  mkdirSync(dirname(target), { recursive: true });
  cpSync(src, target);
}

function cpTree(src, dest) {
  const r = spawnSync('cp', ['-a', `${src}/.`, dest], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp ${src}: ${r.stderr}`);
}

function walk(path, visit) {
  visit(path);
  if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name), visit);
}

function shimDir(root, opts) {
  const dir = join(root, '.shims');
  mkdirSync(dir, { recursive: true });
  // The base image's `chown` knows its users; the host may not have a `node` user. The shim
  // records what was given away (the run-time checks read it) and, as root, really gives it.
  writeFileSync(join(dir, 'chown'), `#!/bin/sh\nexec "${process.execPath}" "${join(HERE, 'chown-shim.mjs')}" "$@"\n`, { mode: 0o755 });
  if (opts.fastNpmCi) {
    const npm = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
    writeFileSync(
      join(dir, 'npm'),
      `#!/bin/sh\nif [ "$1" = ci ]; then shift; exec "${process.execPath}" "${join(HERE, 'fast-npm-ci.mjs')}" "$@"; fi\nexec "${npm}" "$@"\n`,
      { mode: 0o755 },
    );
  }
  return dir;
}

function runLine(ins, stage, cwd, env) {
  const createdTops = readdirSync(stage.root).map((n) => `/${n}`);
  const text = ins.shell ?? ins.exec.join(' ');
  const absolute = createdTops.find((top) => new RegExp(`(^|[\\s=:'"])${top}(/|\\s|$)`).test(text));
  if (absolute) throw new Error(`line ${ins.line}: RUN names ${absolute} by its absolute path; use a path relative to WORKDIR so the reproduction can run it`);
  const r = ins.shell
    ? spawnSync('/bin/sh', ['-c', ins.shell], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 })
    : spawnSync(ins.exec[0], ins.exec.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`line ${ins.line}: RUN failed (exit ${r.status}) in stage ${stage.name ?? stage.index}:\n${tail}`);
  }
}

/**
 * Builds every stage; returns the final stage's image description: `{ root, workdir, env, user,
 * cmd, entrypoint, healthcheck, volumes, from, chownLog }`.
 */
export function reproduce(stages, { context, root, fastNpmCi = false, log = () => {} }) {
  const ignoreFile = join(context, '.dockerignore');
  const isIgnored = dockerignoreMatcher(existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '');
  const excluded = (abs) => {
    const rel = relative(context, abs);
    return rel !== '' && isIgnored(rel);
  };
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  const chownLog = join(root, 'chown.log');
  writeFileSync(chownLog, '');
  const shims = shimDir(root, { fastNpmCi });
  const built = [];
  const started = Date.now();
  const elapsed = () => `[${((Date.now() - started) / 1000).toFixed(1)} s]`;
  for (const stage of stages) {
    const parent = built.find((s) => s.name !== undefined && s.name === stage.from);
    const state = {
      ...stage,
      root: join(root, `stage-${stage.index}`),
      workdir: parent?.workdir ?? '/',
      env: { ...(parent?.env ?? BASE_ENV) },
      user: parent?.user ?? 'root',
      cmd: parent?.cmd ?? null,
      entrypoint: parent?.entrypoint ?? null,
      healthcheck: parent?.healthcheck ?? null,
      volumes: [...(parent?.volumes ?? [])],
      chownLog,
    };
    mkdirSync(state.root, { recursive: true });
    if (parent) cpTree(parent.root, state.root);
    log(`${elapsed()} stage ${stage.name ?? stage.index} FROM ${stage.from}`);
    for (const ins of stage.instructions) {
      const hostCwd = () => join(state.root, state.workdir);
      switch (ins.keyword) {
        case 'WORKDIR':
          state.workdir = imagePath(state.workdir, expand(ins.args, state.env));
          mkdirSync(hostCwd(), { recursive: true });
          break;
        case 'ENV':
          for (const [k, v] of ins.pairs) state.env[k] = expand(v, state.env);
          break;
        case 'ARG':
          if (ins.value !== undefined && state.env[ins.name] === undefined) state.env[ins.name] = ins.value;
          break;
        case 'USER':
          state.user = expand(ins.args, state.env).split(':')[0];
          break;
        case 'VOLUME':
          state.volumes.push(...ins.paths.map((p) => imagePath(state.workdir, p)));
          break;
        case 'CMD':
          state.cmd = ins;
          break;
        case 'ENTRYPOINT':
          state.entrypoint = ins;
          state.cmd = null; // Docker resets an inherited CMD when ENTRYPOINT is set
          break;
        case 'HEALTHCHECK':
          state.healthcheck = ins;
          break;
        case 'COPY': {
          const from = ins.flags.from;
          let sourceRoot = context;
          if (from !== undefined) {
            const src = built.find((s) => s.name === from || String(s.index) === from);
            if (!src) throw new Error(`line ${ins.line}: COPY --from=${from} names no earlier stage (external images are not reproduced)`);
            sourceRoot = src.root;
          }
          const destImage = imagePath(state.workdir, expand(ins.dest, state.env));
          const destIsDir = ins.dest.endsWith('/') || ins.sources.length > 1;
          const dest = join(state.root, destImage);
          for (const s of ins.sources) {
            if (/[*?[]/.test(s)) throw new Error(`line ${ins.line}: wildcards in COPY are not supported by the reproduction`);
            const src = from === undefined ? join(context, posix.normalize(s)) : join(sourceRoot, imagePath('/', s));
            if (from === undefined && excluded(src)) throw new Error(`line ${ins.line}: COPY ${s}: excluded by .dockerignore, so the build context does not have it`);
            if (!existsSync(src)) throw new Error(`line ${ins.line}: COPY ${s}: not found in ${from === undefined ? 'the build context' : `stage ${from}`}`);
            copyInto(src, dest, destIsDir, from === undefined ? excluded : null);
          }
          if (ins.flags.chown) {
            const owner = ins.flags.chown.split(':')[0];
            walk(dest, (p) => writeFileSync(chownLog, `${owner} ${p}\n`, { flag: 'a' }));
          }
          if (ins.flags.chmod) walk(dest, (p) => chmodSync(p, parseInt(ins.flags.chmod, 8)));
          break;
        }
        case 'RUN': {
          const env = {
            ...mapEnv(state.root, state.env),
            PATH: `${shims}:${mapPath(state.root, state.env.PATH ?? BASE_ENV.PATH)}`,
            VELOCITY_REPRO_CONTEXT: context,
            VELOCITY_REPRO_CHOWN_LOG: chownLog,
          };
          log(`${elapsed()}   RUN (line ${ins.line})`);
          runLine(ins, state, hostCwd(), env);
          break;
        }
        default:
          break; // EXPOSE, LABEL, STOPSIGNAL: nothing to reproduce
      }
    }
    built.push(state);
  }
  return built.at(-1);
}

/** The image's environment as the reproduction's processes see it (paths mapped into the root). */
export function mapEnv(stageRoot, env) {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, mapPath(stageRoot, v)]));
}
