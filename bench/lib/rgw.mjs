// A throw-away Ceph RGW on loopback for the benches (test/setup/rgw.sh, the tests' own setup), on
// ports of the bench's choosing so a bench can run beside a test run. Stopped and purged at exit.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts RGW with its ports from `basePort` (RGW, MON, then a range of 30 for the OSD) and returns
 * {VC_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, stop()}.
 */
export function startRgw(root, basePort) {
  const dir = mkdtempSync(join(tmpdir(), 'velocity-bench-rgw-'));
  const script = join(root, 'test/setup/rgw.sh');
  const out = execFileSync('bash', [script, 'start', dir], {
    env: { ...process.env, RGW_PORT: String(basePort), MON_PORT: String(basePort + 1), OSD_PORT_MIN: String(basePort + 10), OSD_PORT_MAX: String(basePort + 40) },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try { execFileSync('bash', [script, 'stop', dir, '--purge'], { stdio: 'ignore' }); } catch { /* best effort */ }
  };
  process.on('exit', stop);
  return { ...Object.fromEntries(out.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2))), stop };
}
