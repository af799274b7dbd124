import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { uniqueHash } from '../helpers/artifacts.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { postJson } from '../helpers/http.js';

/**
 * JWTs verified against a JWKS URL, as with a CI provider's OIDC tokens. The JWKS endpoint is a
 * process edge, so a local server stands in for the identity provider.
 */
describe('JWT auth against a JWKS endpoint', () => {
  let jwks: Server;
  let jwksUrl: string;
  let jwksUp = true;
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let gw: TestGateway;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    ({ privateKey: otherKey } = await generateKeyPair('ES256'));
    key = pair.privateKey;
    const pub = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      if (!jwksUp) {
        res.statusCode = 503;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [pub] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', () => r()));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    gw = await startGateway({
      driver: 'local',
      config: { auth: { tokens: [], jwksUrl, jwtIssuer: 'https://ci.example', jwtAudience: 'velocity' } },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await new Promise((r) => jwks?.close(r));
  });

  const sign = (claims: Record<string, unknown>, k: CryptoKey = key, iss = 'https://ci.example', aud = 'velocity') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(iss).setAudience(aud).setExpirationTime('5m').sign(k);

  const negotiate = (token: string, namespace = 'default') =>
    postJson(`${gw.url}/v1/negotiate`, { hash: uniqueHash(), action: 'download', namespace }, token);

  it('accepts a token signed by a key in the JWKS, with its scopes and namespaces', async () => {
    const token = await sign({ scope: 'cache:read', namespaces: ['web'] });
    expect((await negotiate(token, 'web')).body).toEqual({ status: 'missing' });
    expect((await negotiate(token, 'api')).status).toBe(403);
  });

  it('limits a token without a namespaces claim to the default namespace', async () => {
    const token = await sign({ scope: 'cache:read' });
    expect((await negotiate(token)).status).toBe(200);
    expect((await negotiate(token, 'web')).status).toBe(403);
  });

  it('refuses a wrong issuer, a wrong audience and a key not in the JWKS', async () => {
    for (const token of [
      await sign({ scope: 'cache:read' }, key, 'https://evil.example'),
      await sign({ scope: 'cache:read' }, key, 'https://ci.example', 'other'),
      await sign({ scope: 'cache:read' }, otherKey),
    ]) {
      const r = await negotiate(token);
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('unauthorized');
    }
  });

  it('refuses HS256 tokens when only a JWKS is configured (no algorithm confusion)', async () => {
    const hs = await new SignJWT({ scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://ci.example')
      .setAudience('velocity')
      .setExpirationTime('5m')
      .sign(Buffer.from('x'.repeat(40)));
    expect((await negotiate(hs)).status).toBe(401);
  });

  it('answers 503, not 401, when the JWKS cannot be fetched for a new token', async () => {
    jwksUp = false;
    try {
      // A fresh gateway has no keys cached yet.
      const fresh = await startGateway({
        driver: 'local',
        config: { auth: { tokens: [], jwksUrl, jwtIssuer: 'https://ci.example', jwtAudience: 'velocity' } },
      });
      try {
        const r = await postJson(`${fresh.url}/v1/negotiate`, { hash: 'h', action: 'download' }, await sign({ scope: 'cache:read' }));
        expect(r.status).toBe(503);
        expect(r.body.code).toBe('auth_unavailable');
      } finally {
        await fresh.close();
      }
    } finally {
      jwksUp = true;
    }
  });
});
