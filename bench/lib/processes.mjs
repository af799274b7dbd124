// Helpers shared by the benches: child processes pinned to a core, waiting for a port, cleanup.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const children = new Set();

/** Spawns `cmd args` pinned to `core` with taskset when available. */
export function spawnPinned(core, cmd, args, opts = {}) {
  const pinned = existsSync('/usr/bin/taskset') && core !== undefined;
  const child = spawn(pinned ? 'taskset' : cmd, pinned ? ['-c', String(core), cmd, ...args] : args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.output = () => out;
  return child;
}

export async function waitForHttp(url, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`${url} did not come up`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function stopAll() {
  for (const c of children) c.kill('SIGTERM');
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { stopAll(); process.exit(130); });
process.on('exit', stopAll);

/** CPU time (user + system, ms) a process has used: /proc/<pid>/stat, in clock ticks of 10 ms. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}

export function pinCurrentProcess(core) {
  if (!existsSync('/usr/bin/taskset')) return;
  spawn('taskset', ['-pc', String(core), String(process.pid)], { stdio: 'ignore' });
}

/**
 * The gateway's command line as `npm start` runs it (node flags included), so the benches measure
 * the gateway as it is shipped.
 */
export function gatewayArgs(root) {
  const start = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start.split(/\s+/);
  if (start[0] !== 'node') throw new Error(`package.json start script does not begin with node: ${start.join(' ')}`);
  return start.slice(1).map((arg) => (arg.endsWith('.js') ? join(root, arg) : arg));
}
