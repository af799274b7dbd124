import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { localCacheDir } from '../cache/local-cache.js';
import { loadProject } from '../config/load.js';
import { checkEndpoint, type CheckResult } from '../doctor/checks.js';
import { DoctorFailedError } from '../errors.js';
import type { CliIo } from '../io.js';
import { RemoteClient } from '../remote/client.js';

/** `velocity doctor`: prints each check with how to fix what fails; throws when something does. */
export async function doctorCommand(opts: { json?: boolean | undefined }, io: CliIo): Promise<void> {
  const project = await loadProject(io.cwd, io.env);
  const checks: CheckResult[] = [{ name: 'config', ok: true, detail: `${project.file} is valid` }];

  const cacheDir = localCacheDir(project.root, io.env);
  try {
    await mkdir(cacheDir, { recursive: true });
    await access(cacheDir, constants.W_OK);
    checks.push({ name: 'local cache', ok: true, detail: `${cacheDir} is writable` });
  } catch (err) {
    checks.push({ name: 'local cache', ok: false, detail: (err as Error).message, fix: 'make it writable or set VELOCITY_CACHE_DIR' });
  }

  const remote = project.remote;
  let endpoint: string | null = null;
  if (!remote.enabled) {
    checks.push({
      name: 'remote',
      ok: !remote.unexpected,
      detail: `off: ${remote.reason}`,
      ...(remote.unexpected ? { fix: 'set the variables remote.url/remote.token name, or remote.enabled: false' } : {}),
    });
  } else {
    endpoint = remote.url;
    const client = new RemoteClient({ url: remote.url, token: remote.token, timeoutMs: remote.timeoutMs, fetch: io.fetch });
    checks.push(...(await checkEndpoint(client, remote.namespace, io.now, io.fetch)));
  }

  const problems = checks.filter((c) => !c.ok);
  if (opts.json) {
    io.stdout.write(`${JSON.stringify({ ok: problems.length === 0, endpoint, checks }, null, 2)}\n`);
  }
  if (endpoint) io.stderr.write(`velocity doctor: ${endpoint}\n`);
  for (const c of checks) {
    io.stderr.write(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(18)} ${c.detail}\n`);
    if (!c.ok && c.fix) io.stderr.write(`        ${''.padEnd(18)} fix: ${c.fix}\n`);
  }
  if (problems.length > 0) throw new DoctorFailedError(problems.length);
  io.stderr.write('  everything looks right\n');
}
