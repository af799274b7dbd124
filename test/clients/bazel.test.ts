import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClientGateway, type ClientGateway } from './protocol-kit-gateway.js';
import { uniqueNamespace } from './stream-download-harness.js';

/**
 * The real Bazel client (Debian's bazel-bootstrap) against a gateway on Ceph RGW, offline: a
 * workspace of genrules (no external repositories), `--batch` (no server left behind), a fresh
 * `--output_user_root` per run (no local action cache or outputs carried over), no disk cache, and
 * no user or workspace rc files. The system rc stays: it names the package's install base.
 */
const BAZEL = process.env.VC_TEST_BAZEL ?? '/usr/bin/bazel';
const BIG = 2 * 1024 * 1024;

const WORKSPACE = {
  WORKSPACE: 'workspace(name = "velocity_bazel_test")\n',
  BUILD: `
genrule(
    name = "hello",
    outs = ["hello.txt"],
    cmd = "echo 'hello from bazel' > $@",
)

# Random bytes: a second run that printed the same bytes can only have taken them from the cache.
genrule(
    name = "big",
    srcs = [":hello"],
    outs = ["big.bin"],
    cmd = "head -c ${BIG} /dev/urandom > $@ && cat $(location :hello) >> $@",
)

genrule(
    name = "noisy",
    outs = ["noisy.txt"],
    cmd = "echo 'to stdout'; echo 'to stderr' >&2; head -c 64 /dev/urandom | od -An -tx1 > $@",
)
`,
};
const OUTPUTS = ['hello.txt', 'big.bin', 'noisy.txt'];

interface Run {
  readonly code: number | null;
  readonly stderr: string;
  readonly outputs: Record<string, Buffer>;
}

describe('real Bazel client', () => {
  let gw: ClientGateway;
  let dir: string;
  let ws: string;
  let runs = 0;

  beforeAll(async () => {
    gw = await startClientGateway();
    dir = await mkdtemp(join(tmpdir(), 'vc-bazel-'));
    ws = join(dir, 'ws');
    await mkdir(ws);
    for (const [name, text] of Object.entries(WORKSPACE)) await writeFile(join(ws, name), text);
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    if (dir) {
      // Bazel leaves its output trees read-only.
      await chmodTree(dir);
      await rm(dir, { recursive: true, force: true });
    }
  });

  /**
   * One build from a clean local state (a new output root). The token goes as a Bearer header, or
   * (`basic`) in the cache URL's user info, which Bazel sends as Basic auth.
   */
  async function build(namespace: string, token: string, auth: 'bearer' | 'basic' = 'bearer'): Promise<Run> {
    const root = join(dir, `root-${runs++}`);
    const args = [
      '--nohome_rc',
      '--noworkspace_rc',
      '--batch',
      `--output_user_root=${root}`,
      'build',
      '--spawn_strategy=standalone',
      '--nosandbox_debug',
      '--color=no',
      '--curses=no',
      `--remote_cache=${auth === 'basic' ? gw.url.replace('://', `://ci:${token}@`) : gw.url}/ns/${namespace}/bazel`,
      ...(auth === 'bearer' ? [`--remote_header=Authorization=Bearer ${token}`] : []),
      '--remote_timeout=30',
      '//:all',
    ];
    const child = spawn(BAZEL, args, { cwd: ws, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, USER: 'velocity' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const outputs: Record<string, Buffer> = {};
    if (code === 0) for (const name of OUTPUTS) outputs[name] = await readFile(join(ws, 'bazel-bin', name));
    return { code, stderr, outputs };
  }

  const remoteHits = (run: Run): number => Number(/(\d+) remote cache hit/.exec(run.stderr)?.[1] ?? 0);

  it('stores on the first run; a second run from a clean state (Basic auth) is all remote hits, byte-identical, streamed', async () => {
    const ns = uniqueNamespace('bazel');
    const first = await build(ns, gw.token);
    expect(first.code).toBe(0);
    expect(remoteHits(first)).toBe(0);
    expect(first.stderr).not.toMatch(/WARNING: .*(Remote Cache|remote cache)/i);
    // One action result per genrule; the outputs, stdout/stderr and the Action and Command
    // messages in the CAS.
    expect((await gw.stored('bazel-ac', ns)).map((a) => a.ref.hash)).toHaveLength(3);
    expect(((await gw.stored('bazel-cas', ns)).map((a) => a.ref.hash)).length).toBeGreaterThanOrEqual(5);

    const streamed = await gw.counter('vc_protocol_bytes_total', { protocol: 'bazel', direction: 'down', mode: 'streamed' });
    const second = await build(ns, gw.token, 'basic');
    expect(second.code).toBe(0);
    expect(remoteHits(second)).toBe(3);
    expect(second.stderr).toMatch(/3 remote cache hit/);
    for (const name of OUTPUTS) expect(second.outputs[name]?.equals(first.outputs[name] as Buffer)).toBe(true);
    expect(second.outputs['big.bin']?.length).toBe(BIG + 'hello from bazel\n'.length);
    // The hits came through the gateway (Bazel cannot follow a redirect).
    expect((await gw.counter('vc_protocol_bytes_total', { protocol: 'bazel', direction: 'down', mode: 'streamed' })) - streamed).toBeGreaterThanOrEqual(BIG);
    expect(await gw.counter('vc_protocol_bytes_total', { protocol: 'bazel', direction: 'down', mode: 'redirected' })).toBe(0);
  }, 240_000);

  it('builds without the cache while the store is down, and stores nothing', async () => {
    const ns = uniqueNamespace('bazel');
    gw.proxy?.set({ kind: 'down' });
    let run: Run;
    try {
      run = await build(ns, gw.token);
    } finally {
      gw.proxy?.set({ kind: 'pass' });
    }
    expect(run.code).toBe(0);
    expect(remoteHits(run)).toBe(0);
    expect(run.stderr).toMatch(/503/);
    expect(run.outputs['big.bin']?.length).toBe(BIG + 'hello from bazel\n'.length);
    expect((await gw.stored('bazel-ac', ns)).map((a) => a.ref.hash)).toEqual([]);
    expect((await gw.stored('bazel-cas', ns)).map((a) => a.ref.hash)).toEqual([]);
  }, 240_000);

  it('with a read-only token reads but never writes, and the build succeeds', async () => {
    const ns = uniqueNamespace('bazel');
    const run = await build(ns, await gw.jwt(['cache:read']));
    expect(run.code).toBe(0);
    // Bazel reports the refused writes (403) as warnings and goes on.
    expect(run.stderr).toMatch(/WARNING: Writing to Remote Cache/);
    expect((await gw.stored('bazel-ac', ns)).map((a) => a.ref.hash)).toEqual([]);
    expect((await gw.stored('bazel-cas', ns)).map((a) => a.ref.hash)).toEqual([]);
  }, 240_000);
});

async function chmodTree(path: string): Promise<void> {
  await chmod(path, 0o755).catch(() => undefined);
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await chmodTree(join(path, e.name));
}
