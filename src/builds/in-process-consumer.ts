import type { BuildHandler, ConsumeOptions } from './build-queue.js';
import type { InProcessBuildQueue, InProcessJob } from './in-process-queue.js';

/** Runs the in-process queue's builds: at most `concurrency` at once; `drain` waits for the running ones. */
export class InProcessConsumer {
  private running = 0;
  private closing = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: InProcessBuildQueue,
    private readonly handler: BuildHandler,
    private readonly opts: ConsumeOptions,
  ) {}

  pump(): void {
    while (!this.closing && this.running < this.opts.concurrency) {
      const job = this.queue.take();
      if (!job) return;
      this.running++;
      const run = this.run(job).finally(() => {
        this.running--;
        this.inFlight.delete(run);
        this.queue.pump();
      });
      this.inFlight.add(run);
    }
  }

  async drain(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.inFlight]);
  }

  private async run(job: InProcessJob): Promise<void> {
    const controller = new AbortController();
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
      this.queue.settled(job, { error }, this.opts);
    }
  }
}
