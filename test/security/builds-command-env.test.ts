import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, pollUntilFinal } from '../helpers/builds-client.js';
import { startBuildGateway, type BuildGateway } from '../helpers/builds-gateway.js';
import { signJwt } from '../helpers/builds-security.js';
import { uniqueBucket } from '../helpers/gateway.js';
import { uniqueRequest } from '../fixtures/builds/requests.js';

/**
 * Issue 9, item 8: `VC_BUILD_COMMAND` ran with the whole gateway/worker environment
 * (VC_AUTH_TOKEN, VC_JWT_SECRET, the store's AWS keys), and its stderr tail is shown to any
 * `build:request` token. A real command dumps its environment, to the binary and to stderr; both
 * are read back over HTTP, the way a `build:request` token would.
 */
const SECRET = 'builds-command-env-secret-0123456789abcdef';
const PLANTED: Readonly<Record<string, string>> = {
  VC_AUTH_TOKEN: 'vc-static-token-must-not-leak',
  VC_JWT_SECRET: 'jwt-secret-must-not-leak-0123456789abcdef',
  AWS_SESSION_TOKEN: 'aws-session-must-not-leak',
  BUILD_UNDECLARED: 'undeclared-must-not-pass',
  GOPROXY: 'https://proxy.example/declared',
};
/** What a build command may see: the safe set, the declared names, the build's own inputs. */
const ALLOWED = /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|LANG|LC_ALL|LC_CTYPE|TZ|GOPROXY|VELOCITY_[A-Z_]+|PWD|SHLVL|_)$/;

function envOf(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(line.slice(0, eq))) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

describe('build commands get a clean environment (issue 9, item 8)', () => {
  let gw: BuildGateway;
  let saved: Record<string, string | undefined>;
  let secrets: string[];
  beforeAll(async () => {
    saved = Object.fromEntries(Object.keys(PLANTED).map((k) => [k, process.env[k]]));
    Object.assign(process.env, PLANTED);
    // The store's real keys are in this process's environment too (test/setup/rgw.sh).
    secrets = [PLANTED.VC_AUTH_TOKEN, PLANTED.VC_JWT_SECRET, PLANTED.AWS_SESSION_TOKEN, PLANTED.BUILD_UNDECLARED, process.env.AWS_SECRET_ACCESS_KEY]
      .filter((s): s is string => typeof s === 'string' && s.length > 0);
    gw = await startBuildGateway({
      bucket: uniqueBucket(),
      builds: {
        // Exit 1 when asked to, so the same dump also lands in the failed build's stderr tail.
        command: `env > "$VELOCITY_OUTPUT"; env | sort >&2; grep -q '"race":true' && exit 1; exit 0`,
        env: ['GOPROXY'],
        logsTail: 200,
      },
      inProcessWorker: true,
      config: { auth: { tokens: [], jwtSecret: SECRET } },
    });
  });
  afterAll(async () => {
    await gw?.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("the built binary (the command's environment) holds only the safe set, declared names and the build's inputs", async () => {
    const token = await signJwt(SECRET, 'ci', { scope: 'build:request', namespaces: ['default'] });
    const submitted = await call('POST', `${gw.url}/v1/builds`, token, uniqueRequest('cmd-env-ok'));
    const final = await pollUntilFinal(gw.url, String(submitted.body.id), token);
    expect(final.body.status).toBe('done');
    const text = await (await fetch(String(final.body.url))).text();
    const env = envOf(text);
    expect([...env.keys()].filter((name) => !ALLOWED.test(name))).toEqual([]);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(env.get('GOPROXY')).toBe(PLANTED.GOPROXY);
    expect(env.get('PATH')).toBe(process.env.PATH);
    expect(env.get('VELOCITY_BUILD_KEY')).toBe(final.body.hash);
    expect(env.get('VELOCITY_RR_VERSION')).toBe('v2025.1.2');
    expect(env.get('VELOCITY_TARGET_OS')).toBe('linux');
  });

  it("a failed build's stderr tail, shown to a build:request token, holds no secret", async () => {
    const token = await signJwt(SECRET, 'ci', { scope: 'build:request', namespaces: ['default'] });
    const submitted = await call('POST', `${gw.url}/v1/builds`, token, uniqueRequest('cmd-env-fail', { race: true }));
    const final = await pollUntilFinal(gw.url, String(submitted.body.id), token);
    expect(final.body.status).toBe('failed');
    const tail = (final.body.logs_tail as string[]).join('\n');
    expect(tail).toContain('VELOCITY_BUILD_KEY=');
    for (const secret of secrets) expect(tail).not.toContain(secret);
    expect([...envOf(tail).keys()].filter((name) => !ALLOWED.test(name))).toEqual([]);
  });
});
