import { statfs } from 'node:fs/promises';
import { VelocityError } from '../../errors.js';
import { StorageFullError, StorageUnavailableError } from '../errors.js';

/** After a write failed for want of room, readiness stays down this long even if room reappears. */
export const DISK_FULL_HOLD_MS = 30_000;

export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * The local driver's view of its disk. A full disk (ENOSPC, or EDQUOT under a quota) is a storage
 * error the client can retry (507 with Retry-After), never a 500; readiness reports it both from a
 * free-space floor checked with statfs and from a write that failed for want of room recently,
 * because a disk can refuse a large write while statfs still shows some room.
 */
export class DiskSpace {
  private fullAt: number | undefined;

  constructor(
    private readonly root: string,
    private readonly minFreeBytes: number,
    private readonly now: () => number,
  ) {}

  /** Throws StorageUnavailableError when the disk is full, or was moments ago. */
  async check(): Promise<void> {
    if (this.fullAt !== undefined && this.now() - this.fullAt < DISK_FULL_HOLD_MS) {
      throw new StorageFullError(`local root ${this.root}: a write failed for want of disk space ${Math.round((this.now() - this.fullAt) / 1000)} s ago`);
    }
    const s = await statfs(this.root);
    const free = s.bavail * s.bsize;
    if (free < this.minFreeBytes) {
      throw new StorageFullError(`local root ${this.root}: ${free} bytes free, below the floor of ${this.minFreeBytes} (VC_LOCAL_MIN_FREE_BYTES)`);
    }
  }

  /**
   * The one place the local driver sorts file-system errors: a full disk is StorageFullError (and
   * remembered for readiness), any other errno an outage; errors that already mean something
   * (integrity, a client gone) pass through unchanged.
   */
  toStorageError(what: string, err: unknown): Error {
    // Duck-typed: errors from node:fs may come from another realm (vm contexts), where
    // `instanceof Error` is false.
    if (err instanceof VelocityError || typeof err !== 'object' || err === null) return err as Error;
    if (isDiskFull(err)) {
      this.fullAt = this.now();
      return new StorageFullError(`${what}: ${(err as NodeJS.ErrnoException).code}`, err);
    }
    // A failed system call (EIO, EACCES, EMFILE...) is the disk failing; stream errors such as a
    // client leaving mid-body are not.
    const e = err as NodeJS.ErrnoException;
    if (typeof e.syscall === 'string') return new StorageUnavailableError(`${what}: ${e.code ?? e.message}`, err);
    return e;
  }
}
