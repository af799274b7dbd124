import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactHandle, ArtifactInfo, ArtifactRef, IngestIntent, IngestResult } from '../driver.js';
import { StorageUnavailableError } from '../errors.js';
import { checkIngestIntent } from '../ingest-scope.js';
import { meterBody } from '../ingest-meter.js';
import { describeRef } from '../object-keys.js';
import { metaFile, type LocalFiles } from './local-files.js';

export interface LocalIngestDeps {
  readonly files: LocalFiles;
  readonly head: (ref: ArtifactRef) => Promise<ArtifactHandle | null>;
  readonly now: () => number;
}

/** How often a publish that lost to an artifact deleted before it could be read is tried again. */
const PUBLISH_ATTEMPTS = 3;

/**
 * A body of unknown digest onto local disk: streamed into a staging folder under tmp/ while it is
 * counted and hashed (ingest-meter.ts), meta.json written from what was measured, then published
 * with the same rename(2) as `write` (a rename onto a published artifact folder fails, so the first
 * writer wins and a reader never sees a half-written artifact). Whatever fails, the staging folder
 * is removed; one left by a crash is swept from tmp/ after the usual age.
 */
export async function ingestLocal(deps: LocalIngestDeps, intent: IngestIntent, body: Readable, signal?: AbortSignal): Promise<IngestResult> {
  const { files } = deps;
  const meta = checkIngestIntent(intent);
  const what = `ingest ${describeRef(intent.ref)}`;
  const existing = await deps.head(intent.ref);
  if (existing) {
    // Nothing to store; the rest of the body is read and dropped so the client gets its answer.
    body.resume();
    return { result: 'exists', info: existing.info };
  }
  const staging = await files.stagingDir();
  const metered = meterBody(body, intent, signal);
  let info: ArtifactInfo;
  try {
    await pipeline(metered.meter, createWriteStream(join(staging, 'data'), { flags: 'wx' }));
    info = { ...metered.meter.result, createdAt: new Date(deps.now()).toISOString(), meta };
    await writeFile(join(staging, 'meta.json'), metaFile(info));
  } catch (err) {
    // A client gone, a body too long or wrong, a full disk: nothing partial is kept.
    await files.discard(staging);
    throw files.disk.toStorageError(what, err);
  } finally {
    metered.detach();
  }
  for (let attempt = 1; ; attempt++) {
    if (await files.tryPublish(staging, intent.ref)) return { result: 'created', info };
    const winner = await deps.head(intent.ref).catch(async (err: unknown) => {
      await files.discard(staging);
      throw err;
    });
    if (winner) {
      await files.discard(staging);
      return { result: 'exists', info: winner.info };
    }
    // The winner was deleted (or is being) between the two steps: publish again.
    if (attempt === PUBLISH_ATTEMPTS) {
      await files.discard(staging);
      throw new StorageUnavailableError(`${what}: the key kept changing while being published`);
    }
  }
}
