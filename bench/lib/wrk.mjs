// wrk (C, Debian's package) as the load generator: one thread pinned to the load core, POST bodies
// from a Lua script. It reports its own CPU time (bash's `times` over the child), so every run says
// whether the generator had headroom or was the bottleneck.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const luaString = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/**
 * The Lua script: `bodies` cycled in order, or `randomKeyBody` (a JSON template whose `%KEY%` is
 * replaced by 32 random hex characters per request, for misses nobody asked about).
 */
function script({ path, headers, bodies, randomKeyBody }) {
  const headerLines = Object.entries(headers).map(([k, v]) => `  [${luaString(k)}] = ${luaString(v)},`).join('\n');
  const chooser = randomKeyBody
    ? `local template = ${luaString(randomKeyBody)}
local hex = "0123456789abcdef"
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local function body()
  local t = {}
  for i = 1, 32 do local n = math.random(1, 16); t[i] = hex:sub(n, n) end
  return (template:gsub("%%KEY%%", table.concat(t)))
end`
    : `local bodies = {
${bodies.map((b) => `  ${luaString(b)},`).join('\n')}
}
local i = 0
local function body()
  i = i + 1
  return bodies[(i % #bodies) + 1]
end`;
  return `local headers = {
${headerLines}
}
${chooser}
request = function() return wrk.format("POST", ${luaString(path)}, headers, body()) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d\\n", summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(99)))
end
`;
}

/**
 * Runs wrk for `duration` seconds on `core` and returns {total, rps, p99 (ms), errors, non2xx,
 * loadCpuShare}: loadCpuShare is wrk's CPU time over the wall time, 1.0 meaning its core was
 * saturated (then the server's req/s is the generator's, not the server's).
 */
export async function runWrk({ url, path, headers, bodies, randomKeyBody, connections, duration, core }) {
  const dir = mkdtempSync(join(tmpdir(), 'velocity-wrk-'));
  const file = join(dir, 'load.lua');
  writeFileSync(file, script({ path, headers, bodies, randomKeyBody }));
  const wrkArgs = ['-t1', `-c${connections}`, `-d${duration}s`, '--latency', '-s', file, url];
  const pin = core === undefined ? '' : `taskset -c ${core} `;
  const child = spawn('bash', ['-c', `${pin}wrk "$@"; times`, 'wrk', ...wrkArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  const m = /WRK_RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(out);
  if (code !== 0 || !m) throw new Error(`wrk failed (exit ${code}): ${err || out}`);
  const [total, durationUs, errors, non2xx, p99Us] = m.slice(1).map(Number);
  // `times` prints the shell's own times, then its children's: "0m1.234s 0m0.567s".
  const childTimes = out.trim().split('\n').at(-1).match(/(\d+)m([\d.]+)s/g) ?? [];
  const cpuSeconds = childTimes.map((t) => { const [, mm, ss] = /(\d+)m([\d.]+)s/.exec(t); return Number(mm) * 60 + Number(ss); }).reduce((a, b) => a + b, 0);
  return { total, rps: total / (durationUs / 1e6), p99: p99Us / 1000, errors, non2xx, loadCpuShare: cpuSeconds / (durationUs / 1e6) };
}
