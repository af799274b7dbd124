import { describe, expect, it } from '@jest/globals';
import { RemoteUnavailableError } from '../../../src/cli/errors.js';
import { TransferWatchdog, type TransferClock } from '../../../src/cli/remote/transfer-watchdog.js';

/** A clock that moves only when told to, firing the ticks that fall due on the way. */
function manualClock(): TransferClock & { advance(ms: number): void } {
  let now = 0;
  const timers: Array<{ every: number; next: number; tick: () => void; live: boolean }> = [];
  return {
    now: () => now,
    every(ms, tick) {
      const t = { every: ms, next: now + ms, tick, live: true };
      timers.push(t);
      return () => {
        t.live = false;
      };
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.every;
        due.tick();
      }
      now = end;
    },
  };
}

const LIMITS = { idleTimeoutMs: 30_000, minBytesPerSecond: 1024, windowMs: 30_000 };

describe('transfer watchdog', () => {
  it('aborts a transfer when no byte moves for the idle timeout', () => {
    const clock = manualClock();
    const dog = new TransferWatchdog('upload', LIMITS, clock);
    clock.advance(29_000);
    expect(dog.signal.aborted).toBe(false);
    clock.advance(1_000);
    expect(dog.signal.aborted).toBe(true);
    expect(dog.stalled).toBeInstanceOf(RemoteUnavailableError);
    expect(dog.stalled?.message).toBe('upload stalled: no data for 30 s');
  });

  it('aborts a trickle that is never idle but below the floor over the window', () => {
    const clock = manualClock();
    const dog = new TransferWatchdog('download', LIMITS, clock);
    for (let t = 0; t < 29; t++) {
      clock.advance(1_000);
      dog.progress(100);
      expect(dog.signal.aborted).toBe(false);
    }
    clock.advance(1_000);
    dog.progress(100);
    clock.advance(3_000);
    expect(dog.signal.aborted).toBe(true);
    expect(dog.stalled?.message).toMatch(/^download too slow: \d+\.\d bytes\/s over the last 3\d s \(the minimum is 1024\)$/);
  });

  it('lets a transfer above the floor run as long as it takes, and judges the last window only', () => {
    const clock = manualClock();
    const dog = new TransferWatchdog('download', LIMITS, clock);
    // A fast start, then ten minutes at 2 KiB/s: fine.
    dog.progress(10_000_000);
    for (let t = 0; t < 600; t++) {
      clock.advance(1_000);
      dog.progress(2048);
    }
    expect(dog.signal.aborted).toBe(false);
    // Then it slows to 512 B/s: the fast start long past does not cover for it.
    for (let t = 0; t < 40 && !dog.signal.aborted; t++) {
      clock.advance(1_000);
      dog.progress(512);
    }
    expect(dog.stalled?.message).toMatch(/too slow/);
    dog.stop();
  });

  it('never fires after stop()', () => {
    const clock = manualClock();
    const dog = new TransferWatchdog('download', LIMITS, clock);
    dog.stop();
    clock.advance(120_000);
    expect(dog.signal.aborted).toBe(false);
  });
});
