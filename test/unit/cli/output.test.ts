import { describe, expect, it } from '@jest/globals';
import { wantsProgress, type CliIo, type TextSink } from '../../../src/cli/io.js';
import { Reporter } from '../../../src/cli/report/reporter.js';
import { LinePrefixer } from '../../../src/cli/run/line-prefixer.js';
import { summarize, type TaskResult } from '../../../src/cli/run/summary.js';

const io = (isTTY: boolean, env: Record<string, string>): CliIo => {
  const sink: TextSink = { write: () => true, isTTY };
  return { stdout: sink, stderr: sink, cwd: '/', env, fetch: globalThis.fetch, now: () => 0 };
};

describe('human output', () => {
  it('shows progress bars only on a terminal outside CI', () => {
    expect(wantsProgress(io(true, {}))).toBe(true);
    expect(wantsProgress(io(true, { CI: 'false' }))).toBe(true);
    expect(wantsProgress(io(true, { CI: 'true' }))).toBe(false);
    expect(wantsProgress(io(true, { CI: '1' }))).toBe(false);
    expect(wantsProgress(io(false, {}))).toBe(false);
  });

  it('prefixes whole lines, holding partial ones until they end', () => {
    let out = '';
    const p = new LinePrefixer('web:build: ', (t) => (out += t));
    p.push('one\ntw');
    expect(out).toBe('web:build: one\n');
    p.push('o\r\nthree');
    p.flush();
    expect(out).toBe('web:build: one\nweb:build: two\nweb:build: three\n');
  });

  it('summarizes hits, misses, failures and the time saved; a failure sets the exit code', () => {
    const t = (id: string, status: TaskResult['status'], exitCode: number | null, savedMs = 0): TaskResult => ({
      id, package: id, task: 'build', key: 'k', status, exitCode, durationMs: 1, savedMs, upload: null,
    });
    const s = summarize([t('a', 'hit-local', 0, 1000), t('b', 'hit-remote', 0, 500), t('c', 'miss', 0), t('d', 'failed', 3), t('e', 'not-run', null)], 42, { enabled: true, problem: null }, []);
    expect(s).toMatchObject({
      success: false,
      exitCode: 3,
      counts: { tasks: 5, hitsLocal: 1, hitsRemote: 1, misses: 2, failed: 1, notRun: 1 },
      timeSavedMs: 1500,
    });
  });
  it('gathers output off a terminal into one write per turn, in order; writes at once on a terminal', async () => {
    const writes: string[] = [];
    const r = new Reporter({ write: (t: string) => writes.push(t), isTTY: false });
    r.line('a:build: cache hit');
    r.write('a:build: built a\n');
    r.warn('careful');
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a:build: cache hit\na:build: built a\nvelocity: warning: careful\n']);
    r.line('summary');
    r.flush();
    expect(writes.at(-1)).toBe('summary\n');
    const tty: string[] = [];
    const t = new Reporter({ write: (x: string) => tty.push(x), isTTY: true });
    t.line('now');
    expect(tty).toEqual(['now\n']);
  });
});
