import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * Kills a build's process group and removes its work directory if the worker dies without doing
 * it (SIGKILL, OOM kill, a crash): Linux has no parent-death signal for a process group, and a
 * detached group outlives its parent. A tiny `/bin/sh` outside the group holds one end of a pipe
 * whose other end only the worker has; the kernel closes it when the worker dies, however it dies,
 * so `read` returns and the group is killed. A build that ends normally stops its watchdog.
 */
const SCRIPT = 'read -r _ <&3; kill -9 -"$1" 2>/dev/null; rm -rf -- "$2"';

export interface OrphanWatchdog {
  stop(): void;
}

export function watchBuildGroup(pgid: number, workDir: string): OrphanWatchdog {
  const child = spawn('/bin/sh', ['-c', SCRIPT, 'velocity-build-watchdog', String(pgid), workDir], {
    // Its own group: killing the build's group must not kill the watchdog before it cleans up.
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  child.on('error', () => undefined);
  // Neither the process nor its pipe may keep the worker's event loop alive.
  child.unref();
  (child.stdio[3] as Socket | null)?.unref();
  return {
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      (child.stdio[3] as Socket | null)?.destroy();
    },
  };
}
