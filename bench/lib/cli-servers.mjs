// Starts the two remote caches on loopback as child processes and waits until they answer.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { gatewayArgs } from './processes.mjs';

async function waitFor(url, child, name, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${name} did not answer ${url} within ${timeoutMs} ms`);
}

function start(cmd, args, env, name) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  child.on('exit', (code) => {
    if (code && code !== 0 && !child.killed) process.stderr.write(`${name} exited (${code}): ${stderr}\n`);
  });
  return child;
}

export async function startVelocityGateway({ repo, port, token, root }) {
  const child = start(process.execPath, gatewayArgs(repo), {
    VC_PORT: String(port), VC_HOST: '127.0.0.1', VC_AUTH_TOKEN: token, VC_LOCAL_ROOT: root, VC_STORAGE_DRIVER: 'local', VC_LOG_LEVEL: 'warn',
  }, 'velocity-gateway');
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/healthz`, child, 'velocity-gateway');
  return { url, stop: () => child.kill('SIGTERM') };
}

export async function startTurboRemoteCache({ repo, port, token, root }) {
  const child = start(process.execPath, [`${repo}/node_modules/turborepo-remote-cache/dist/cli.js`], {
    PORT: String(port), TURBO_TOKEN: token, STORAGE_PROVIDER: 'local', STORAGE_PATH: root, STORAGE_PATH_USE_TMP_FOLDER: 'false', LOG_LEVEL: 'warn', ENABLE_STATUS_LOG: 'false', HOST: '127.0.0.1',
  }, 'turborepo-remote-cache');
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v8/artifacts/status`, child, 'turborepo-remote-cache');
  return { url, stop: () => child.kill('SIGTERM') };
}
