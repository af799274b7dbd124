import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { artifact, uniqueHash, type TestArtifact } from '../helpers/artifacts.js';
import { startGateway, type DriverKind, type TestGateway } from '../helpers/gateway.js';
import { getBytes, postJson, putBytes, type JsonResponse } from '../helpers/http.js';

/**
 * Issue 9, item 2: completes of the same or of different multipart uploads of one key, in any
 * interleaving, leave exactly one readable artifact whose bytes match its recorded digest. A loser
 * answers `skipped` (the key exists) or a clean 404 `upload_not_found`: never a 400 or a 5xx, and
 * never a key that answers `found` while its bytes are gone. Each race runs several rounds, each on
 * a fresh key, and every round must hold.
 */
const ROUNDS = 4;
const PARALLEL = 8;
/** The smallest part but the last (S3's rule, kept by the gateway on every driver). */
const MIN_PART = 5 * 1024 * 1024;
const STAGGER_MS = 3;

interface Upload {
  readonly uploadId: string;
  readonly body: TestArtifact;
  readonly parts: { part_number: number; etag: string }[];
}

describe.each<DriverKind>(['local', 's3'])('concurrent multipart completes (%s driver)', (driver) => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startGateway({ driver });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const negotiate = (body: unknown) => postJson(`${gw.url}/v1/negotiate`, body, gw.token);

  /**
   * Starts an upload of `body` under `hash` in parts of at most `partSize` bytes and uploads every
   * part (not completed).
   */
  async function prepare(hash: string, body: TestArtifact, partSize = body.size): Promise<Upload> {
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.size; at += partSize) chunks.push(body.body.subarray(at, at + partSize));
    const declared = chunks.map((c) => ({ size: c.length, md5: createHash('md5').update(c).digest('base64') }));
    const r = await negotiate({ hash, action: 'upload', size: body.size, sha256: body.sha256, parts: declared });
    expect(r.body.status).toBe('upload_needed');
    const mp = r.body.multipart as { upload_id: string; parts: { part_number: number; url: string; headers: Record<string, string> }[] };
    const parts = await Promise.all(
      mp.parts.map(async (p, i) => {
        const res = await putBytes(p.url, chunks[i]!, p.headers);
        expect(res.status).toBe(200);
        return { part_number: p.part_number, etag: res.headers.get('etag')! };
      }),
    );
    return { uploadId: mp.upload_id, body, parts };
  }

  const complete = (hash: string, u: Upload): Promise<JsonResponse> =>
    postJson(`${gw.url}/v1/uploads/complete`, { hash, upload_id: u.uploadId, parts: u.parts }, gw.token);

  /**
   * Runs the calls concurrently, round 0 all at once and each later round with its starts spread
   * `round * STAGGER_MS` apart: the completes then overlap at different stages (one publishing
   * while another is still copying parts), which is where the interleavings differ.
   */
  async function staggered(round: number, calls: (() => Promise<JsonResponse>)[]): Promise<JsonResponse[]> {
    const started: Promise<JsonResponse>[] = [];
    for (const call of calls) {
      started.push(call());
      if (round > 0) await new Promise((r) => setTimeout(r, round * STAGGER_MS));
    }
    return Promise.all(started);
  }

  /** Exactly one completer stored; every other one was told the key exists or the upload is gone. */
  function expectOneWinner(answers: JsonResponse[]): JsonResponse {
    const outcomes = answers.map((a) => (a.status === 200 ? String(a.body.status) : `${a.status} ${String(a.body.code)}`));
    for (const o of outcomes) expect(['stored', 'skipped', '404 upload_not_found']).toContain(o);
    expect(outcomes.filter((o) => o === 'stored')).toHaveLength(1);
    return answers[outcomes.indexOf('stored')]!;
  }

  /** The key is found, and its bytes (read several times) are the ones its digest says. */
  async function expectReadable(hash: string, winner: JsonResponse, candidates: readonly TestArtifact[]): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const down = await negotiate({ hash, action: 'download' });
      expect(down.body).toMatchObject({ status: 'found', size: winner.body.size, sha256: winner.body.sha256 });
      const got = await getBytes(down.body.url as string);
      expect(got.status).toBe(200);
      expect(createHash('sha256').update(got.body).digest('hex')).toBe(winner.body.sha256);
      expect(candidates.some((c) => c.body.equals(got.body))).toBe(true);
    }
    expect((await negotiate({ hash, action: 'upload', size: 1, sha256: 'a'.repeat(64), md5: artifact('x').md5 })).body).toEqual({ status: 'skipped' });
  }

  it(`${PARALLEL} parallel completes of one upload, ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const hash = uniqueHash(`same-${round}-`);
      // Two parts: a complete still copying the first must not find the second deleted by the winner.
      const body = artifact(randomBytes(MIN_PART + 64 * 1024));
      const upload = await prepare(hash, body, MIN_PART);
      const answers = await staggered(round, Array.from({ length: PARALLEL }, () => () => complete(hash, upload)));
      const winner = expectOneWinner(answers);
      expect(winner.body).toEqual({ status: 'stored', size: body.size, sha256: body.sha256 });
      await expectReadable(hash, winner, [body]);
    }
  });

  it(`parallel completes of ${PARALLEL / 2} uploads of one key with different bytes, each completed twice, ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const hash = uniqueHash(`mixed-${round}-`);
      const bodies = Array.from({ length: PARALLEL / 2 }, (_, i) => artifact(Buffer.concat([Buffer.from(`writer ${i} `), randomBytes(32 * 1024)])));
      const uploads = await Promise.all(bodies.map((b) => prepare(hash, b)));
      const answers = await staggered(round, [...uploads, ...uploads].map((u) => () => complete(hash, u)));
      const winner = expectOneWinner(answers);
      await expectReadable(hash, winner, bodies);
    }
  });
});
