// Starts the reproduced image's default command the way `docker run` would (its WORKDIR, ENV and
// USER) and checks what a user relies on: /healthz and /readyz answer, the HEALTHCHECK agrees with
// readiness, output is JSON only, the bins are on PATH, the data folder belongs to the user.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BASE_USERS, mapEnv, mapPath } from './reproduce.mjs';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function status(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function waitFor(url, want, ms) {
  const until = Date.now() + ms;
  let last = 0;
  while (Date.now() < until) {
    last = await status(url);
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

function which(name, pathValue) {
  for (const dir of pathValue.split(':')) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** argv of a CMD or HEALTHCHECK instruction, with `node` as this host's node. */
function argvOf(ins, pathValue) {
  const argv = ins.exec ?? ['/bin/sh', '-c', ins.shell];
  if (argv[0] === 'node') return [process.execPath, ...argv.slice(1)];
  if (!argv[0].includes('/')) {
    const found = which(argv[0], pathValue);
    if (!found) throw new Error(`${argv[0]}: not on the image's PATH`);
    return [found, ...argv.slice(1)];
  }
  return argv;
}

function identity(user) {
  const uid = BASE_USERS[user] ?? (/^\d+$/.test(user) ? Number(user) : undefined);
  if (uid === undefined) throw new Error(`USER ${user} is not a user of the base image`);
  // Only root may switch users; elsewhere the check runs as the current user and reads the chown log.
  return process.getuid?.() === 0 ? { uid, gid: uid } : {};
}

async function startGateway(image, extraEnv, failures) {
  const port = await freePort();
  const env = { ...mapEnv(image.root, image.env), PATH: mapPath(image.root, image.env.PATH), VC_HOST: '127.0.0.1', VC_PORT: String(port), VC_AUTH_TOKEN: 'repro-token-0123456789abcdef', ...extraEnv };
  if (!image.cmd) throw new Error('the image has no CMD');
  if (image.entrypoint) failures.push('ENTRYPOINT set: the reproduction expects the node image entrypoint with a CMD');
  const argv = argvOf(image.cmd, env.PATH);
  const cwd = join(image.root, image.workdir);
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...identity(image.user) });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { port, env, cwd, child, out, exited, base: `http://127.0.0.1:${port}` };
}

async function stop(gw) {
  gw.child.kill('SIGTERM');
  const timer = setTimeout(() => gw.child.kill('SIGKILL'), 10000);
  const result = await gw.exited;
  clearTimeout(timer);
  return result;
}

function healthcheck(image, gw) {
  if (!image.healthcheck || image.healthcheck.none) return { code: null };
  const argv = argvOf(image.healthcheck, gw.env.PATH);
  const r = spawnSync(argv[0], argv.slice(1), { cwd: gw.cwd, env: gw.env, encoding: 'utf8', timeout: 10000, ...identity(image.user) });
  return { code: r.status };
}

/** Runs every run-time check; returns the list of failures (empty: the image works). */
export async function checkImage(image, { packageJson }) {
  const failures = [];
  if (image.user === 'root' || image.user === '0') failures.push('the image runs as root: add a USER');
  if (!image.healthcheck || image.healthcheck.none) failures.push('no HEALTHCHECK');

  // The data folder of the default (local) driver must be writable by the image's user.
  const localRoot = image.env.VC_LOCAL_ROOT;
  if (!localRoot || !localRoot.startsWith('/')) failures.push('VC_LOCAL_ROOT is not set to an absolute path: the local driver would write under the read-only app folder');
  else {
    const mapped = mapPath(image.root, localRoot);
    const owners = readFileSync(image.chownLog, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
    const owned = existsSync(mapped) && owners.some(([user, p]) => user === image.user && realpathSync(p) === realpathSync(mapped));
    if (!owned) failures.push(`${localRoot} (VC_LOCAL_ROOT) is not created and given to USER ${image.user}: the local driver cannot write (EACCES)`);
    if (!image.volumes.includes(localRoot)) failures.push(`${localRoot} is not a VOLUME: data would live in the container's writable layer`);
  }

  // Every bin of package.json on the image's PATH, executable.
  const pathValue = mapPath(image.root, image.env.PATH ?? '');
  for (const name of Object.keys(packageJson.bin ?? {})) {
    const found = which(name, pathValue);
    if (!found) failures.push(`${name}: not on the image's PATH`);
    else {
      try {
        accessSync(found, constants.X_OK);
      } catch {
        failures.push(`${name}: not executable`);
      }
    }
  }
  const cli = which('velocity', pathValue);
  if (cli) {
    const r = spawnSync(cli, ['--help'], { cwd: join(image.root, image.workdir), env: { ...mapEnv(image.root, image.env), PATH: `${pathValue}:${process.env.PATH}` }, encoding: 'utf8', timeout: 20000 });
    if (r.status !== 0) failures.push(`velocity --help exited ${r.status}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`);
  }

  // The default command: alive, ready, the HEALTHCHECK says so, JSON output only, clean exit.
  const gw = await startGateway(image, {}, failures);
  try {
    const alive = await waitFor(`${gw.base}/healthz`, 200, 20000);
    if (alive !== 200) failures.push(`/healthz answered ${alive || 'nothing'} within 20 s`);
    else {
      const ready = await waitFor(`${gw.base}/readyz`, 200, 5000);
      if (ready !== 200) failures.push(`/readyz answered ${ready || 'nothing'} with the image's defaults`);
      const hc = healthcheck(image, gw);
      if (ready === 200 && hc.code !== 0) failures.push(`HEALTHCHECK exited ${hc.code} while /readyz is 200`);
    }
  } finally {
    const { code, signal } = await stop(gw);
    if (code !== 0) failures.push(`the gateway exited ${code ?? signal} on SIGTERM`);
    const notJson = gw.out.stdout.split('\n').filter((l) => l.trim() !== '').filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    if (notJson.length > 0) failures.push(`non-JSON lines on stdout: ${notJson.slice(0, 3).join(' | ')}`);
    if (gw.out.stderr.trim() !== '') failures.push(`output on stderr: ${gw.out.stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
  }

  // A HEALTHCHECK that means readiness: with the store not ready (less free space than required),
  // /healthz stays 200, /readyz is 503, and the check must fail.
  if (image.healthcheck && !image.healthcheck.none) {
    const unready = await startGateway(image, { VC_LOCAL_MIN_FREE_BYTES: String(2 ** 50) }, failures);
    try {
      if ((await waitFor(`${unready.base}/healthz`, 200, 20000)) === 200 && (await status(`${unready.base}/readyz`)) === 503) {
        const hc = healthcheck(image, unready);
        if (hc.code === 0) failures.push('HEALTHCHECK passes while /readyz is 503 (the store is not ready): it checks liveness, not readiness');
      } else failures.push('could not bring up a gateway whose store is not ready (VC_LOCAL_MIN_FREE_BYTES)');
    } finally {
      await stop(unready);
    }
  }
  return failures;
}
