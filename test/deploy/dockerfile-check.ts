import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

export interface CheckResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/check-dockerfile.mjs (the CI check itself, not a copy of its logic). */
export function runDockerfileCheck(args: string[], cwd = REPO): Promise<CheckResult> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'scripts/check-dockerfile.mjs'), '--quiet', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** A stand-in gateway: /healthz always, /readyz only when it can write VC_LOCAL_ROOT and has room. */
const SERVER = `import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const ready = () => {
  if (Number(process.env.VC_LOCAL_MIN_FREE_BYTES ?? 0) > 2 ** 40) return false;
  try { writeFileSync(process.env.VC_LOCAL_ROOT + '/probe', 'x'); return true; } catch { return false; }
};
createServer((req, res) => {
  res.statusCode = req.url === '/healthz' ? 200 : req.url === '/readyz' ? (ready() ? 200 : 503) : 404;
  res.end();
}).listen(Number(process.env.VC_PORT), process.env.VC_HOST, () => console.log(JSON.stringify({ msg: 'listening' })));
process.on('SIGTERM', () => process.exit(0));
`;

/** The shape of our Dockerfile on a package with no dependencies: `prepare` builds out/ from scripts/. */
export const GOOD_DOCKERFILE = `FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
FROM node:24-bookworm-slim
ENV VC_HOST=0.0.0.0 VC_PORT=8080 VC_LOCAL_ROOT=/app/data
WORKDIR /app
COPY --from=build /app/out ./out
RUN mkdir -p data && chown node:node data
VOLUME ["/app/data"]
USER node
HEALTHCHECK CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.VC_PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "out/server.mjs"]
`;

/** Writes a small build context; returns its folder. */
export function miniContext(dockerfile: string, dockerignore = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'velocity-mini-context-'));
  const pkg = { name: 'demo', version: '1.0.0', private: true, scripts: { prepare: 'node scripts/build.mjs' } };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
  writeFileSync(
    join(dir, 'package-lock.json'),
    JSON.stringify({ name: 'demo', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'demo', version: '1.0.0' } } }),
  );
  mkdirSync(join(dir, 'scripts'));
  writeFileSync(
    join(dir, 'scripts/build.mjs'),
    `import { mkdirSync, writeFileSync } from 'node:fs';\nmkdirSync('out', { recursive: true });\nwriteFileSync('out/server.mjs', ${JSON.stringify(SERVER)});\n`,
  );
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  writeFileSync(join(dir, '.dockerignore'), dockerignore);
  return dir;
}
