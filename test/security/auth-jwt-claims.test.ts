import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { uniqueHash } from '../helpers/artifacts.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postJson } from '../helpers/http.js';

/**
 * Issue 9, item 9: JWT claims of the wrong shape used to fall back to defaults (`"namespaces":"a"`
 * or `null` granted `default`), and tokens without `exp` or issued in the future were accepted.
 * Each claim below is signed with the gateway's own secret, so only the claim rules can refuse it.
 */
const SECRET = 'jwt-claims-test-secret-0123456789abcdef';
const HOUR = 3600;

async function sign(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(Buffer.from(SECRET));
}

describe('JWT claims are validated, never defaulted', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ driver: 'local', jwtSecret: SECRET });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const fresh = () => ({ iat: now(), exp: now() + 600 });
  const download = (token: string, namespace = 'default') =>
    postJson(`${gw.url}/v1/negotiate`, { hash: uniqueHash(), action: 'download', namespace }, token);

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['namespaces as a string', { namespaces: 'a' }, /claim namespaces .*got a string/],
    ['namespaces null', { namespaces: null }, /claim namespaces .*got null/],
    ['namespaces an empty array', { namespaces: [] }, /claim namespaces/],
    ['namespaces with a number', { namespaces: ['default', 7] }, /claim namespaces/],
    ['namespaces with a path', { namespaces: ['../b'] }, /claim namespaces/],
    ['scope as an array', { scope: ['cache:read'], namespaces: ['default'] }, /claim scope .*got an array/],
    ['sub as a number', { sub: 42 }, /claim sub/],
  ])('refuses %s with 401 naming the claim', async (_label, claims, message) => {
    const r = await download(await sign({ scope: 'cache:read', ...fresh(), ...claims }));
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('unauthorized');
    expect(r.body.message).toMatch(message);
  });

  it('requires exp', async () => {
    const r = await download(await sign({ scope: 'cache:read', iat: now() }));
    expect(r.status).toBe(401);
    expect(r.body.message).toMatch(/claim exp is required/);
  });

  it('refuses a token issued in the future, beyond a small clock skew', async () => {
    const future = await download(await sign({ scope: 'cache:read', iat: now() + HOUR, exp: now() + 2 * HOUR }));
    expect(future.status).toBe(401);
    expect(future.body.message).toMatch(/claim iat is in the future/);
    // A few seconds ahead is a clock difference, not an attack.
    expect((await download(await sign({ scope: 'cache:read', iat: now() + 5, exp: now() + 600 }))).status).toBe(200);
  });

  it('bounds the lifetime (24 h by default): exp - iat, or exp - now without iat', async () => {
    const long = await download(await sign({ scope: 'cache:read', iat: now(), exp: now() + 30 * 24 * HOUR }));
    expect(long.status).toBe(401);
    expect(long.body.message).toMatch(/lifetime .*exceeds the maximum of 86400 s/);
    const noIat = await download(await sign({ scope: 'cache:read', exp: now() + 30 * 24 * HOUR }));
    expect(noIat.status).toBe(401);
    expect(noIat.body.message).toMatch(/exp - now/);
    // Issued long ago for a day, still inside its day: fine.
    expect((await download(await sign({ scope: 'cache:read', iat: now() - 20 * HOUR, exp: now() + 3 * HOUR }))).status).toBe(200);
    expect((await download(await sign({ scope: 'cache:read', exp: now() + 23 * HOUR }))).status).toBe(200);
  });

  it('grants exactly the namespaces named, "*" for all, default when the claim is absent', async () => {
    const onlyA = await sign({ scope: 'cache:read', namespaces: ['a'], ...fresh() });
    expect((await download(onlyA, 'a')).status).toBe(200);
    expect((await download(onlyA, 'default')).status).toBe(403);
    for (const all of ['*', ['*']]) {
      const token = await sign({ scope: 'cache:read', namespaces: all, ...fresh() });
      expect((await download(token, 'zz')).status).toBe(200);
    }
    const absent = await sign({ scope: 'cache:read', ...fresh() });
    expect((await download(absent, 'default')).status).toBe(200);
    expect((await download(absent, 'a')).status).toBe(403);
  });

  it('ignores unknown scopes (they grant nothing) and names them when access is refused', async () => {
    const token = await sign({ scope: 'openid cache:read cache:wirte', namespaces: ['*'], ...fresh() });
    expect((await download(token)).status).toBe(200);
    const up = await postJson(
      `${gw.url}/v1/negotiate`,
      { hash: uniqueHash(), action: 'upload', size: 1, sha256: 'a'.repeat(64) },
      token,
    );
    expect(up.status).toBe(403);
    expect(up.body.message).toMatch(/lacks scope cache:write .*unknown scopes.*cache:wirte/);
  });

  it('leaves static tokens as they were: full access, no expiry', async () => {
    expect((await download(gw.token, 'anything')).status).toBe(200);
  });
});
