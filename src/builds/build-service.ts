import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type Principal, requireScope } from '../auth/principal.js';
import { BadRequestError, NotFoundError, ServiceUnavailableError, VelocityError } from '../errors.js';
import type { Metrics } from '../metrics/create-metrics.js';
import type { ArtifactRef, StorageDriver } from '../storage/driver.js';
import { presignDownload } from '../storage/presign-download.js';
import { buildArtifactRef } from './build-artifact.js';
import type { FoundAnswer, QueuedAnswer, StatusAnswer } from './build-answers.js';
import { buildFacts } from './build-metadata.js';
import { parseBuildRequest } from './build-request-schema.js';
import {
  BUILD_ID_PATTERN,
  LIVE_STATES,
  QueueFullError,
  type BuildJobData,
  type BuildQueue,
  type BuildSnapshot,
  type BuildState,
  type EnsureResult,
} from './build-queue.js';
import { NO_BUILDER_MESSAGE, gatewayVeloxCheck } from './builders/create-builder.js';
import { refusal, type VeloxCapabilityCheck } from './builders/velox-capabilities.js';
import { buildKey, canonicalRequest, type CanonicalBuildRequest } from './canonical-request.js';
import { builderKind, parsePlatform, type BuildsConfig } from './config.js';
import { withDeadline } from './deadline.js';
import { followBuild } from './follow-build.js';

export interface BuildServiceDeps {
  readonly queue: BuildQueue;
  readonly driver: StorageDriver;
  readonly config: BuildsConfig;
  /** Seconds a presigned download stays valid. */
  readonly presignTtl: number;
  readonly logger: Logger;
  readonly metrics?: Pick<Metrics, 'buildQueueDepth' | 'buildWaiters'> | undefined;
  /** What the Velox server can build (default: probed from `config.veloxUrl`; null: no check). */
  readonly velox?: VeloxCapabilityCheck | null;
}

/** How long a miss waits for a first capability probe before it is queued unchecked. */
const CAPABILITY_WAIT_MS = 2000;

/**
 * The build domain, free of HTTP: a hit costs a HEAD and a presign; a miss joins the key's live
 * build or starts one; waiters are counted so a build is cancelled only when nobody waits.
 */
export class BuildService {
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  private localWaiters = 0;
  private readonly lookups = new Map<string, Promise<FoundAnswer | null>>();
  private readonly velox: VeloxCapabilityCheck | null;

  constructor(private readonly deps: BuildServiceDeps) {
    this.velox = deps.velox === undefined ? gatewayVeloxCheck(deps.config) : deps.velox;
  }

  /** Background duties: queue-timeout expiry and the queue-depth gauge. */
  start(): void {
    const { config } = this.deps;
    const every = config.queueTimeout > 0 ? Math.min(5000, Math.max(250, (config.queueTimeout * 1000) / 4)) : 5000;
    this.sweeper = setInterval(() => void this.sweep(), every);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** A miss the Velox server cannot build as asked is a 400, never queued (velox-capabilities.ts). */
  private async refuseUnsupported(canonical: CanonicalBuildRequest): Promise<void> {
    const refused = this.velox ? await refusal(this.velox, canonical, CAPABILITY_WAIT_MS) : null;
    if (refused) throw new BadRequestError(refused, 'unsupported_by_builder');
  }

  ref(key: string): ArtifactRef {
    return buildArtifactRef(this.deps.config.namespace, key);
  }

  /** Readiness: the queue's backend answers within VC_REDIS_TIMEOUT (or `signal`). */
  ping(signal?: AbortSignal): Promise<void> {
    return this.guard(() => this.deps.queue.ping(signal), signal);
  }

  async submit(body: unknown, principal: Principal, waiter?: string): Promise<FoundAnswer | QueuedAnswer> {
    requireScope(principal, 'build:request');
    const req = parseBuildRequest(body);
    const force = req.force_rebuild ?? false;
    if (force) requireScope(principal, 'admin');
    const canonical = canonicalRequest(req, parsePlatform(this.deps.config.defaultPlatform) ?? undefined);
    const key = buildKey(canonical);
    if (!force) {
      const found = await this.lookup(key);
      if (found) return found;
    }
    await this.refuseUnsupported(canonical);
    const { queue, config } = this.deps;
    if (builderKind(config) === 'none' && !(await this.guard(() => queue.hasWorkers()))) {
      throw new ServiceUnavailableError(NO_BUILDER_MESSAGE, { code: 'no_builder', retryAfterSeconds: 60 });
    }
    const data: BuildJobData = {
      key,
      canonical,
      forceRebuild: force,
      requestId: req.request_id ?? randomUUID(),
      requestedBy: principal.subject,
      enqueuedAt: Date.now(),
    };
    let result = await this.ensure(data, force);
    if (result.state === 'done') {
      // Finished between our HEAD and now, or finished but since evicted: look again.
      const found = force ? null : await this.lookup(key);
      if (found) return found;
      result = await this.ensure(data, true);
    }
    await this.guard(() => queue.addWaiter(result.id, waiter ?? `principal:${principal.subject}`));
    const state = result.state === 'building' ? 'building' : 'queued';
    return { status: state, id: result.id, hash: key };
  }

  async status(id: string, principal: Principal): Promise<StatusAnswer> {
    requireScope(principal, 'build:request');
    return this.answer(await this.snapshot(id));
  }

  /** Where the binary of a finished build is, or the state it is in. */
  async artifact(id: string, principal: Principal): Promise<{ url: string } | { state: BuildState }> {
    requireScope(principal, 'build:request');
    const snapshot = await this.snapshot(id);
    if (snapshot.state !== 'done') return { state: snapshot.state };
    const found = await this.lookup(snapshot.key);
    // Done, but the binary has been evicted since: say so rather than hand out a dead URL.
    if (!found) throw new NotFoundError(`the binary of build ${id} is no longer stored; request it again`, 'artifact_not_found');
    return { url: found.url };
  }

  /** The caller stops waiting; the build is cancelled only when nobody else waits for it. */
  async leave(id: string, principal: Principal | null, waiter?: string): Promise<StatusAnswer & { waiters: number }> {
    if (principal) requireScope(principal, 'build:request');
    const snapshot = await this.snapshot(id);
    const who = waiter ?? (principal ? `principal:${principal.subject}` : 'anonymous');
    const { remaining } = await this.guard(() => this.deps.queue.removeWaiter(id, who));
    if (remaining === 0 && LIVE_STATES.has(snapshot.state)) {
      this.deps.logger.info({ build: id }, 'nobody waits for the build any more: cancelling it');
      await this.guard(() => this.deps.queue.cancel(id, 'build cancelled: nobody waits for it any more'));
    }
    return { ...(await this.answer(await this.snapshot(id))), waiters: remaining };
  }

  /** Waits for a build to finish (see followBuild); counts the caller in vc_build_waiters meanwhile. */
  async waitForFinish(
    id: string,
    signal: AbortSignal,
    onEvent?: Parameters<typeof followBuild>[2]['onEvent'],
  ): Promise<BuildSnapshot | null> {
    this.trackWaiter(1);
    try {
      return await followBuild(this.deps.queue, id, { signal, onEvent });
    } finally {
      this.trackWaiter(-1);
    }
  }

  async answer(snapshot: BuildSnapshot): Promise<StatusAnswer> {
    const base = { status: snapshot.state, id: snapshot.id, hash: snapshot.key };
    const logs = snapshot.logsTail.length > 0 ? { logs_tail: snapshot.logsTail } : {};
    if (snapshot.state !== 'done') {
      return { ...base, ...(snapshot.error ? { error: snapshot.error } : {}), ...logs };
    }
    const found = await this.lookup(snapshot.key);
    if (!found) return { ...base, error: 'the binary is no longer stored (evicted); request it again' };
    return { ...base, url: found.url, expires_at: found.expires_at, size: found.size, sha256: found.sha256, build: found.build };
  }

  async snapshot(id: string): Promise<BuildSnapshot> {
    if (!BUILD_ID_PATTERN.test(id)) throw new NotFoundError(`build ${id} not found`, 'build_not_found');
    const snapshot = await this.guard(() => this.deps.queue.get(id));
    if (!snapshot) throw new NotFoundError(`build ${id} not found (unknown, or finished long ago)`, 'build_not_found');
    return snapshot;
  }

  /**
   * A hit: the stored binary and a presigned GET. Store outages propagate as 503, never a miss.
   * Concurrent lookups of one key share a single HEAD + presign: when a build finishes, all its
   * waiters ask at once, and they all get the same answer.
   */
  lookup(key: string): Promise<FoundAnswer | null> {
    let pending = this.lookups.get(key);
    if (!pending) {
      pending = this.lookupOnce(key).finally(() => this.lookups.delete(key));
      this.lookups.set(key, pending);
    }
    return pending;
  }

  private async lookupOnce(key: string): Promise<FoundAnswer | null> {
    const ref = this.ref(key);
    const handle = await this.deps.driver.head(ref);
    if (!handle) return null;
    const presigned = await presignDownload(this.deps.driver, handle, this.deps.presignTtl);
    const { info } = handle;
    return {
      status: 'found',
      hash: key,
      url: presigned.url,
      expires_at: presigned.expiresAt.toISOString(),
      size: info.size,
      sha256: info.sha256,
      build: buildFacts(info),
    };
  }

  trackWaiter(delta: number): void {
    this.localWaiters += delta;
    this.deps.metrics?.buildWaiters.set(this.localWaiters);
  }

  private async ensure(data: BuildJobData, replaceFinished: boolean): Promise<EnsureResult> {
    try {
      return await this.bounded(this.deps.queue.ensure(data, { replaceFinished, maxDepth: this.deps.config.maxQueue }));
    } catch (err) {
      if (err instanceof QueueFullError) {
        throw new ServiceUnavailableError(`${err.message}; try again later (VC_BUILD_MAX_QUEUE=${this.deps.config.maxQueue})`, {
          code: 'queue_full',
          retryAfterSeconds: 10,
        });
      }
      throw queueUnavailable(err);
    }
  }

  /**
   * Queue backend failures are outages (503), never "not found" or a 500; so is a backend that
   * does not answer within VC_REDIS_TIMEOUT (BullMQ waits for a connection that is not ready
   * however the client is configured, so the bound is kept here too).
   */
  private async guard<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await this.bounded(fn(), signal);
    } catch (err) {
      throw queueUnavailable(err);
    }
  }

  private bounded<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
    const ms = Math.round(this.deps.config.redisTimeout * 1000);
    return withDeadline(work, ms, `the build queue (VC_REDIS_TIMEOUT=${this.deps.config.redisTimeout} s)`, signal);
  }

  private async sweep(): Promise<void> {
    const { queue, config, metrics, logger } = this.deps;
    // One sweep at a time: during an outage they would otherwise pile up, one per tick.
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      if (config.queueTimeout > 0) {
        const expired = await this.bounded(queue.expireWaiting(config.queueTimeout * 1000));
        if (expired > 0) logger.warn({ expired }, 'builds failed: waited in the queue past VC_BUILD_QUEUE_TIMEOUT');
      }
      metrics?.buildQueueDepth.set(await this.bounded(queue.depth()));
    } catch (err) {
      logger.warn({ err }, 'build queue sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}

function queueUnavailable(err: unknown): VelocityError {
  if (err instanceof VelocityError) return err;
  return new ServiceUnavailableError(`build queue unavailable: ${(err as Error).message}`, {
    code: 'queue_unavailable',
    retryAfterSeconds: 5,
    cause: err,
  });
}
