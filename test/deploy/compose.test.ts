import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './dockerfile-check.ts';
import { loadCompose, policyProblems, schemaErrors } from './compose-checks.ts';

const COMPOSE = readFileSync(join(REPO, 'docker-compose.yml'), 'utf8');
const BEFORE = readFileSync(join(import.meta.dirname, 'fixtures/docker-compose.before-issue-10.yml'), 'utf8');
const ENV = { VC_AUTH_TOKEN: 'token-for-the-test', MINIO_ROOT_PASSWORD: 'minio-password-for-the-test', GRAFANA_ADMIN_PASSWORD: 'grafana-password' };

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    expect(schemaErrors(loadCompose(COMPOSE, ENV))).toEqual([]);
  });

  it('pins images, restarts, checks health, keeps the worker behind the builds profile', () => {
    expect(policyProblems(loadCompose(COMPOSE, ENV))).toEqual([]);
  });

  it.each(['VC_AUTH_TOKEN', 'MINIO_ROOT_PASSWORD', 'GRAFANA_ADMIN_PASSWORD'])('refuses to start without %s (no default secret)', (name) => {
    expect(() => loadCompose(COMPOSE, { ...ENV, [name]: undefined })).toThrow(new RegExp(`required variable ${name}`));
    expect(() => loadCompose(COMPOSE, { ...ENV, [name]: '' })).toThrow(new RegExp(`required variable ${name}`));
  });

  it('gives Grafana its admin password and the store its root password from the environment', () => {
    const doc = loadCompose(COMPOSE, ENV);
    expect(doc.services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD).toBe('grafana-password');
    expect(doc.services.minio!.environment!.MINIO_ROOT_PASSWORD).toBe('minio-password-for-the-test');
    expect(doc.services.gateway!.environment!.AWS_SECRET_ACCESS_KEY).toBe('minio-password-for-the-test');
  });

  it('names the store in presigned URLs as VC_S3_PUBLIC_ENDPOINT says (CI outside the compose network)', () => {
    expect(loadCompose(COMPOSE, ENV).services.gateway!.environment!.VC_S3_PUBLIC_ENDPOINT).toBe('http://localhost:9000');
    const doc = loadCompose(COMPOSE, { ...ENV, VC_S3_PUBLIC_ENDPOINT: 'http://cache.ci.internal:9000' });
    expect(doc.services.gateway!.environment!.VC_S3_PUBLIC_ENDPOINT).toBe('http://cache.ci.internal:9000');
    expect(doc.services.gateway!.environment!.VC_S3_CREATE_BUCKET).toBe('true');
  });

  describe('the checks fail on broken input', () => {
    it('the schema rejects an unknown service key and a wrong type', () => {
      const doc = loadCompose(COMPOSE, ENV);
      doc.services.gateway!.restartt = 'always';
      doc.services.redis!.ports = 6379;
      const errors = schemaErrors(doc);
      expect(errors.join('\n')).toMatch(/\/services\/gateway .*\(restartt\)/);
      expect(errors.join('\n')).toMatch(/\/services\/redis\/ports/);
    });

    it('the policy rejects the compose file from before issue 10', () => {
      const problems = policyProblems(loadCompose(BEFORE, ENV));
      expect(problems).toEqual(
        expect.arrayContaining([
          'minio: image minio/minio:latest is not pinned to a tag',
          'MinIO is not quay.io/minio/minio at a RELEASE tag',
          'gateway: no restart policy',
          'prometheus: no healthcheck',
          'worker: not behind the builds profile',
        ]),
      );
    });

    it('the old file starts without a MinIO password (the default this file no longer has)', () => {
      expect(() => loadCompose(BEFORE, { VC_AUTH_TOKEN: 't' })).not.toThrow();
    });
  });
});
