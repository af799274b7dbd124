import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { parseBuildRequest } from '../../../src/builds/build-request-schema.js';
import { buildKey, canonicalJson, canonicalRequest, toVeloxRequest } from '../../../src/builds/canonical-request.js';
import { BadRequestError } from '../../../src/errors.js';
import { HTTP_PLUGINS, validRequest } from '../../fixtures/builds/requests.js';

function rejection(body: unknown): BadRequestError {
  try {
    parseBuildRequest(body);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestError);
    return err as BadRequestError;
  }
  throw new Error('expected a 400');
}

describe('build request validation', () => {
  it('accepts a Velox v3 BuildRequest with every field', () => {
    const req = parseBuildRequest(
      validRequest({
        request_id: '3b241101-e2bb-4255-8caf-4136c566a962',
        replaces: [{ old: 'github.com/roadrunner-server/http/v5', new: 'github.com/acme/http/v5@v5.0.3' }],
        excludes: [{ module: 'github.com/roadrunner-server/goridge/v3', version: 'v3.8.0' }],
        race: true,
        debug: false,
        force_rebuild: true,
      }),
    );
    expect(req.plugins).toHaveLength(3);
    expect(req.force_rebuild).toBe(true);
  });

  it.each(['v2025.1.2', 'v2.12.3-rc.1', 'master', 'abcdef0', 'a'.repeat(40)])('accepts rr_version %s', (v) => {
    expect(parseBuildRequest(validRequest({ rr_version: v })).rr_version).toBe(v);
  });

  it.each(['2025.1.2', 'latest', 'main', 'ABCDEF0', 'abc', 'v1.2', ''])('rejects rr_version %j naming the field', (v) => {
    const err = rejection(validRequest({ rr_version: v }));
    expect(err.status).toBe(400);
    expect(err.message).toContain('rr_version');
  });

  it.each([
    ['rr_version', { rr_version: `v1.2.3-${'a'.repeat(200)}` }, 'rr_version: must be at most 128 characters'],
    ['module_name', { plugins: [{ module_name: `github.com/${'a'.repeat(300)}`, tag: 'v1' }] }, 'plugins[0].module_name: must be at most 300 characters'],
    ['excludes', { excludes: Array.from({ length: 201 }, () => ({ module: 'github.com/a/b', version: 'v1.0.0' })) }, 'excludes: must list at most 200 items'],
  ])('refuses an overlong %s before matching it', (_field, override, message) => {
    expect(rejection(validRequest(override)).message).toContain(message);
  });

  it.each(['v1.2.3a', 'v1.2.3-rc.1+build.5', 'v10.20.30'])('accepts module version %s as before (linear pattern, same language)', (v) => {
    expect(parseBuildRequest(validRequest({ excludes: [{ module: 'github.com/a/b', version: v }] })).excludes?.[0]?.version).toBe(v);
  });

  it.each(['v1.2.3 ', 'v1.2.3\n', 'v1.2.3/x', 'v1.2.3-ü'])('refuses rr_version %j: a suffix is semver characters only', (v) => {
    expect(rejection(validRequest({ rr_version: v })).message).toContain('rr_version');
  });

  it('rejects an unknown platform naming os or arch', () => {
    expect(rejection(validRequest({ target_platform: { os: 'beos', arch: 'amd64' } })).message).toContain('target_platform.os');
    expect(rejection(validRequest({ target_platform: { os: 'linux', arch: 'z80' } })).message).toContain('target_platform.arch');
  });

  it('rejects empty plugins and bad module paths', () => {
    expect(rejection(validRequest({ plugins: [] })).message).toMatch(/plugins: must list at least one plugin/);
    const bad = rejection(validRequest({ plugins: [{ module_name: '../../etc/passwd', tag: 'v1.0.0' }] }));
    expect(bad.message).toContain('plugins[0].module_name');
    expect(rejection(validRequest({ plugins: [{ module_name: 'https://github.com/a/b', tag: 'v1' }] })).message).toContain(
      'plugins[0].module_name',
    );
    expect(rejection(validRequest({ plugins: [{ module_name: 'github.com/a/b', tag: 'v1 ; rm -rf' }] })).message).toContain(
      'plugins[0].tag',
    );
  });

  it('rejects a bad UUID and unknown fields', () => {
    expect(rejection(validRequest({ request_id: 'not-a-uuid' })).message).toContain('request_id');
    expect(rejection(validRequest({ frobnicate: true })).message).toContain('frobnicate: unknown field');
    expect(rejection('plain string').message).toContain('(body)');
    expect(rejection(validRequest({ race: 'yes' })).message).toContain('race');
  });

  it('lists every problem at once', () => {
    const err = rejection({ rr_version: 'x', target_platform: { os: 'beos', arch: 'z80' }, plugins: [] });
    for (const field of ['rr_version', 'target_platform.os', 'target_platform.arch', 'plugins']) {
      expect(err.message).toContain(field);
    }
  });
});

describe('parity with Velox\'s request proto and validation', () => {
  const key = (body: unknown, platform?: { os: string; arch: string }) => buildKey(canonicalRequest(parseBuildRequest(body), platform));

  it('accepts the lowerCamelCase JSON names protojson accepts, with the same key', () => {
    const camel = {
      requestId: '3b241101-e2bb-4255-8caf-4136c566a962',
      rrVersion: 'v2025.1.2',
      targetPlatform: { os: 'linux', arch: 'amd64' },
      plugins: HTTP_PLUGINS.map((p) => ({ moduleName: p.module_name, tag: p.tag })),
      forceRebuild: false,
    };
    expect(parseBuildRequest(camel).request_id).toBe(camel.requestId);
    expect(key(camel)).toBe(key(validRequest()));
  });

  it('refuses a field given under both names, as protojson does', () => {
    expect(rejection(validRequest({ rrVersion: 'v2025.1.3' })).message).toContain('rr_version: given twice (as rr_version and rrVersion)');
    const plugins = [{ module_name: 'github.com/a/b', moduleName: 'github.com/a/c', tag: 'v1.0.0' }];
    expect(rejection(validRequest({ plugins })).message).toContain('plugins[0].module_name: given twice');
  });

  it('reads null as the default: null lists and flags give the key of absent ones; null plugins is none', () => {
    expect(key(validRequest({ replaces: null, excludes: null, race: null, debug: null, request_id: null }))).toBe(key(validRequest()));
    expect(rejection(validRequest({ plugins: null })).message).toContain('plugins');
  });

  it('fills a missing target_platform with the configured default, in the key', () => {
    const { target_platform: _omitted, ...noPlatform } = validRequest();
    expect(key(noPlatform)).toBe(key(validRequest()));
    expect(key({ ...noPlatform, target_platform: null })).toBe(key(validRequest()));
    const darwin = { os: 'darwin', arch: 'arm64' };
    expect(key(noPlatform, darwin)).toBe(key(validRequest({ target_platform: darwin })));
    expect(canonicalRequest(parseBuildRequest(noPlatform), darwin).target_platform).toEqual(darwin);
  });

  it.each(['00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '3b241101-e2bb-9255-0caf-4136c566a962'])(
    'accepts any 8-4-4-4-12 hex UUID %s (protovalidate string.uuid)',
    (id) => expect(parseBuildRequest(validRequest({ request_id: id })).request_id).toBe(id),
  );

  it.each(['./http', '../forks/http', '/src/http/v5'])('accepts the local path %s in replaces.new', (path) => {
    const req = parseBuildRequest(validRequest({ replaces: [{ old: 'github.com/roadrunner-server/http/v5', new: path }] }));
    expect(req.replaces?.[0]?.new).toBe(path);
  });

  it.each([
    ['a local path with @version', { old: 'github.com/a/b', new: './b@v1.0.0' }, 'replaces[0].new'],
    ['a local path as old', { old: './b', new: 'github.com/c/d@v1.0.0' }, 'replaces[0].old'],
    ['a path with a space', { old: 'github.com/a/b', new: '/src/my dir' }, 'replaces[0].new'],
  ])('refuses %s', (_name, replace, field) => {
    expect(rejection(validRequest({ replaces: [replace] })).message).toContain(field);
  });

  it('refuses two replacements of one module (Velox: duplicate old), even identical ones', () => {
    const old = 'github.com/roadrunner-server/http/v5';
    const twice = [{ old, new: 'github.com/acme/http/v5@v5.0.3' }, { old, new: 'github.com/other/http/v5@v5.0.4' }];
    expect(rejection(validRequest({ replaces: twice })).message).toContain(`replaces[1].old: duplicate old "${old}"`);
    const same = [{ old, new: 'github.com/acme/http/v5@v5.0.3' }, { old, new: 'github.com/acme/http/v5@v5.0.3' }];
    expect(rejection(validRequest({ replaces: same })).message).toContain('replaces[1].old: duplicate old');
  });
});

describe('canonical request and build key', () => {
  const key = (body: Record<string, unknown>) => buildKey(canonicalRequest(parseBuildRequest(body)));

  it('is the SHA-256 of the documented canonical JSON', () => {
    const canonical = canonicalRequest(parseBuildRequest(validRequest()));
    const expected =
      '{"key_version":1,"rr_version":"v2025.1.2","target_platform":{"os":"linux","arch":"amd64"},"plugins":[' +
      '{"module_name":"github.com/roadrunner-server/http/v5","tag":"v5.0.2"},' +
      '{"module_name":"github.com/roadrunner-server/logger/v5","tag":"v5.0.1"},' +
      '{"module_name":"github.com/roadrunner-server/server/v5","tag":"v5.1.0"}],' +
      '"replaces":[],"excludes":[],"race":false,"debug":false}';
    expect(canonicalJson(canonical)).toBe(expected);
    expect(buildKey(canonical)).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  it('does not depend on plugin order, request_id, force_rebuild or duplicates', () => {
    const base = key(validRequest());
    expect(key(validRequest({ plugins: [...HTTP_PLUGINS].reverse() }))).toBe(base);
    expect(key(validRequest({ request_id: '3b241101-e2bb-4255-8caf-4136c566a962' }))).toBe(base);
    expect(key(validRequest({ force_rebuild: true }))).toBe(base);
    expect(key(validRequest({ plugins: [...HTTP_PLUGINS, HTTP_PLUGINS[0]] }))).toBe(base);
    expect(key(validRequest({ race: false, debug: false, replaces: [], excludes: [] }))).toBe(base);
  });

  it('changes with every field that changes the binary', () => {
    const base = key(validRequest());
    const variants = [
      validRequest({ rr_version: 'v2025.1.3' }),
      validRequest({ target_platform: { os: 'darwin', arch: 'amd64' } }),
      validRequest({ target_platform: { os: 'linux', arch: 'arm64' } }),
      validRequest({ plugins: HTTP_PLUGINS.slice(1) }),
      validRequest({ plugins: [{ ...HTTP_PLUGINS[0], tag: 'v5.0.3' }, ...HTTP_PLUGINS.slice(1)] }),
      validRequest({ race: true }),
      validRequest({ debug: true }),
      validRequest({ replaces: [{ old: 'github.com/a/b', new: 'github.com/c/b' }] }),
      validRequest({ excludes: [{ module: 'github.com/a/b', version: 'v1.0.0' }] }),
    ];
    const keys = new Set(variants.map(key));
    expect(keys.size).toBe(variants.length);
    expect(keys.has(base)).toBe(false);
  });

  it('sorts by module then tag in code-unit order', () => {
    const canonical = canonicalRequest(
      parseBuildRequest(
        validRequest({
          plugins: [
            { module_name: 'github.com/b/x', tag: 'v1.0.0' },
            { module_name: 'github.com/a/x', tag: 'v2.0.0' },
            { module_name: 'github.com/a/x', tag: 'v10.0.0' },
            { module_name: 'github.com/B/x', tag: 'v1.0.0' },
          ],
        }),
      ),
    );
    expect(canonical.plugins.map((p) => `${p.module_name}@${p.tag}`)).toEqual([
      'github.com/B/x@v1.0.0',
      'github.com/a/x@v10.0.0',
      'github.com/a/x@v2.0.0',
      'github.com/b/x@v1.0.0',
    ]);
  });

  it('sends Velox the request with its request_id and force flag', () => {
    const canonical = canonicalRequest(parseBuildRequest(validRequest()));
    const velox = toVeloxRequest(canonical, { requestId: 'r-1', forceRebuild: true });
    expect(velox).toMatchObject({ request_id: 'r-1', force_rebuild: true, rr_version: 'v2025.1.2' });
    expect(velox).not.toHaveProperty('key_version');
  });
});
