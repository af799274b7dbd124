import type { BuildHandler, ConsumeOptions } from './build-queue.js';
import { drainWithin, handBackReason } from './hand-back.js';
import type { InProcessBuildQueue, InProcessJob } from './in-process-queue.js';

/** Runs the in-process queue's builds: at most `concurrency` at once; `drain` waits for the running ones. */
export class InProcessConsumer {
  private busy = 0;
  private closing = false;
  private readonly running = new Map<InProcessJob, AbortController>();
  private readonly handedBack = new Set<InProcessJob>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: InProcessBuildQueue,
    private readonly handler: BuildHandler,
    private readonly opts: ConsumeOptions,
  ) {}

  pump(): void {
    while (!this.closing && this.busy < this.opts.concurrency) {
      const job = this.queue.take();
      if (!job) return;
      this.busy++;
      const run = this.run(job).finally(() => {
        this.busy--;
        this.inFlight.delete(run);
        this.queue.pump();
      });
      this.inFlight.add(run);
    }
  }

  /** Waits for the running builds; past `graceMs`, stops them and hands them back to the queue. */
  async drain(graceMs?: number): Promise<void> {
    this.closing = true;
    await drainWithin(Promise.all([...this.inFlight]).then(() => undefined), graceMs, () => {
      for (const [job, controller] of this.running) {
        this.handedBack.add(job);
        controller.abort(handBackReason());
      }
    });
  }

  private async run(job: InProcessJob): Promise<void> {
    const controller = new AbortController();
    this.running.set(job, controller);
    this.queue.started(job, controller);
    try {
      const result = await this.handler({
        id: job.id,
        data: job.data,
        attempt: job.attempts,
        firstStartedAt: job.firstStartedAt ?? Date.now(),
        signal: controller.signal,
        log: (lines) => {
          this.queue.appendLogs(job, lines);
          return Promise.resolve();
        },
      });
      this.queue.settled(job, { result }, this.opts);
    } catch (error) {
      if (this.handedBack.delete(job)) this.queue.handBack(job);
      else this.queue.settled(job, { error }, this.opts);
    } finally {
      this.running.delete(job);
    }
  }
}
