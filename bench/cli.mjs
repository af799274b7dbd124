// velocity run build vs turbo run build on a generated 100-package monorepo with ^build chains.
// Like for like: both tools start every task the same way, through the package's `npm run build`.
//
//   npm run bench:cli                      (builds first; 1 warm-up round, then 3 timed rounds)
//   BENCH_ROUNDS=5 BENCH_WARMUP=1 BENCH_PACKAGES=100 BENCH_CONCURRENCY=10 BENCH_HIT_REPEAT=3 node bench/cli.mjs
//
// Both tools use a remote cache on loopback with local-disk storage: velocity-gateway (local
// driver) and turborepo-remote-cache (local provider). Per round:
//   all-miss: sources salted (keys neither tool has seen), outputs and local caches wiped; each
//             tool in turn (the order alternates between rounds);
//   all-hit:  outputs and local caches wiped before every run, so every hit comes from the
//             remote; BENCH_HIT_REPEAT runs per tool, interleaved (velocity, turbo, velocity...),
//             since an all-hit run is short and the machine's noise is not.
// Reported: medians per scenario, the ratio velocity / turbo (below 1: velocity faster), and
// the load average before and after (the numbers mean little on a busy machine).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { generateMonorepo, pkgName, salt } from './lib/cli-monorepo.mjs';
import { startTurboRemoteCache, startVelocityGateway } from './lib/cli-servers.mjs';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Untimed first round(s): both cache servers start cold (JIT), which says nothing about either tool.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const PACKAGES = Number(process.env.BENCH_PACKAGES ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const HIT_REPEAT = Number(process.env.BENCH_HIT_REPEAT ?? 3);
const STEP_TIMEOUT_MS = 300_000;
const TURBO = join(REPO, 'node_modules', '.bin', 'turbo');
const VELOCITY = join(REPO, 'dist', 'bin', 'velocity.js');

if (!existsSync(VELOCITY)) throw new Error('dist/bin/velocity.js is missing: run `npm run build` first (npm run bench:cli does)');
if (!existsSync(TURBO)) throw new Error('turbo is missing: npm install --save-dev turbo turborepo-remote-cache');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function wipe(dir) {
  const targets = [join(dir, '.velocity'), join(dir, '.turbo'), join(dir, 'node_modules', '.cache')];
  for (let i = 0; i < PACKAGES; i++) targets.push(join(dir, 'packages', pkgName(i), 'dist'), join(dir, 'packages', pkgName(i), '.turbo'));
  await Promise.all(targets.map((t) => rm(t, { recursive: true, force: true })));
}

async function timed(cmd, args, opts) {
  const t0 = performance.now();
  try {
    const { stdout } = await run(cmd, args, { ...opts, timeout: STEP_TIMEOUT_MS, maxBuffer: 64 << 20 });
    return { ms: performance.now() - t0, stdout };
  } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${err.stderr ?? ''}`.slice(0, 4000));
  }
}

async function countDist(dir) {
  let n = 0;
  for (let i = 0; i < PACKAGES; i++) {
    if (existsSync(join(dir, 'packages', pkgName(i), 'dist', 'index.js'))) n++;
  }
  return n;
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'velocity-bench-cli-'));
  const mono = join(work, 'repo');
  const token = randomBytes(16).toString('hex');
  const basePort = 20000 + Math.floor(Math.random() * 20000);
  console.error(`bench: generating ${PACKAGES} packages in ${mono}`);
  await generateMonorepo(mono, { packages: PACKAGES });
  // turbo wants a git repository (for its SCM hashing) and a packageManager field (set above).
  await run('git', ['init', '-q'], { cwd: mono });
  await run('git', ['-c', 'user.email=bench@localhost', '-c', 'user.name=bench', 'add', '-A'], { cwd: mono });
  await run('git', ['-c', 'user.email=bench@localhost', '-c', 'user.name=bench', 'commit', '-qm', 'bench'], { cwd: mono });

  const gateway = await startVelocityGateway({ repo: REPO, port: basePort, token, root: join(work, 'velocity-store') });
  const turboCache = await startTurboRemoteCache({ repo: REPO, port: basePort + 1, token, root: join(work, 'turbo-store') });
  const env = {
    ...process.env,
    CI: '1',
    BENCH_VELOCITY_URL: gateway.url,
    BENCH_VELOCITY_TOKEN: token,
    TURBO_API: turboCache.url,
    TURBO_TOKEN: token,
    TURBO_TEAM: 'team_bench',
    TURBO_TELEMETRY_DISABLED: '1',
    DO_NOT_TRACK: '1',
    TURBO_NO_UPDATE_NOTIFIER: '1',
    TURBO_PRINT_VERSION_DISABLED: '1',
  };
  const tools = {
    velocity: (extra) => timed(process.execPath, [VELOCITY, 'run', 'build', '--concurrency', String(CONCURRENCY), '--json', ...extra], { cwd: mono, env }),
    turbo: (extra) => timed(TURBO, ['run', 'build', `--concurrency=${CONCURRENCY}`, '--no-daemon', '--output-logs=full', ...extra], { cwd: mono, env }),
  };
  const times = { velocity: { miss: [], hit: [] }, turbo: { miss: [], hit: [] } };
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const loadBefore = load();
  const checkHit = async (tool, hit) => {
    if ((await countDist(mono)) !== PACKAGES) throw new Error(`${tool} all-hit run did not restore every dist/`);
    if (tool === 'velocity') {
      const s = JSON.parse(hit.stdout);
      if (s.counts.hitsRemote !== PACKAGES) throw new Error(`velocity all-hit run: ${s.counts.hitsRemote} remote hits, expected ${PACKAGES}`);
    } else if (!/FULL TURBO|cache hit/i.test(hit.stdout)) {
      throw new Error('turbo all-hit run shows no cache hits');
    }
  };
  try {
    for (let round = -WARMUP; round < ROUNDS; round++) {
      const order = (round + WARMUP) % 2 === 0 ? ['velocity', 'turbo'] : ['turbo', 'velocity'];
      const label = round < 0 ? 'warm-up' : `round ${round + 1}/${ROUNDS}`;
      // One salt for both tools: their caches are separate, and neither has seen this tree.
      await salt(mono, PACKAGES, `${round}-${randomBytes(4).toString('hex')}`);
      for (const tool of order) {
        await wipe(mono);
        const miss = await tools[tool]([]);
        if ((await countDist(mono)) !== PACKAGES) throw new Error(`${tool} all-miss run left packages unbuilt`);
        if (tool === 'velocity') {
          const m = JSON.parse(miss.stdout);
          if (m.counts.misses !== PACKAGES) throw new Error(`velocity all-miss run: ${m.counts.misses} misses, expected ${PACKAGES}`);
        }
        if (round >= 0) times[tool].miss.push(miss.ms);
        const inner = tool === 'velocity' ? `   (velocity's own timer: ${JSON.parse(miss.stdout).durationMs} ms)` : '';
        console.error(`${label.padEnd(9)} ${tool.padEnd(8)} all-miss ${miss.ms.toFixed(0).padStart(6)} ms${inner}`);
      }
      for (let i = 0; i < HIT_REPEAT; i++) {
        for (const tool of i % 2 === 0 ? order : [...order].reverse()) {
          await wipe(mono);
          const hit = await tools[tool]([]);
          await checkHit(tool, hit);
          if (round >= 0) times[tool].hit.push(hit.ms);
          const inner = tool === 'velocity' ? `   (velocity's own timer: ${JSON.parse(hit.stdout).durationMs} ms)` : '';
          console.error(`${label.padEnd(9)} ${tool.padEnd(8)} all-hit  ${hit.ms.toFixed(0).padStart(6)} ms${inner}`);
        }
      }
    }
  } finally {
    gateway.stop();
    turboCache.stop();
  }
  const loadAfter = load();
  const turboVersion = (await run(TURBO, ['--version'], { env })).stdout.trim();
  const rows = ['miss', 'hit'].map((k) => {
    const v = median(times.velocity[k]);
    const t = median(times.turbo[k]);
    return { scenario: k === 'miss' ? 'all-miss' : 'all-hit', velocity: v, turbo: t, ratio: v / t };
  });
  console.log(`\nvelocity run build vs turbo ${turboVersion} run build: ${PACKAGES} packages, ^build chains, concurrency ${CONCURRENCY}, ${ROUNDS} timed rounds after ${WARMUP} warm-up, ${HIT_REPEAT} all-hit runs per tool and round (medians)`);
  console.log(`load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after, on ${availableParallelism()} CPUs`);
  console.log('scenario   velocity ms   turbo ms   velocity/turbo');
  for (const r of rows) console.log(`${r.scenario.padEnd(10)} ${r.velocity.toFixed(0).padStart(11)} ${r.turbo.toFixed(0).padStart(10)}   ${r.ratio.toFixed(2).padStart(14)}`);
  console.log('\nre-run: npm run bench:cli   (BENCH_ROUNDS, BENCH_WARMUP, BENCH_PACKAGES, BENCH_CONCURRENCY, BENCH_HIT_REPEAT to vary)');
  await rm(work, { recursive: true, force: true });
}

await main();
