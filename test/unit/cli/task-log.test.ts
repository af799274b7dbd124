import { describe, expect, it } from '@jest/globals';
import { colorEnabled, packagePaint } from '../../../src/cli/report/colors.js';
import { OUTPUT_LOGS, TaskLogs, type LogOrder, type OutputLogs } from '../../../src/cli/report/task-log.js';

const KEY = 'ab'.repeat(32);

/**
 * Three tasks, their events interleaved as a run would interleave them: a hit, a miss that
 * succeeds and a miss that fails, with output arriving in pieces (a line split across chunks).
 */
function scenario(outputLogs: OutputLogs, logOrder: LogOrder): string[] {
  const writes: string[] = [];
  const logs = new TaskLogs({ outputLogs, logOrder, color: false }, (t) => writes.push(t));
  const ok = logs.for('ok:build', 'ok');
  const bad = logs.for('bad:build', 'bad');
  ok.start(KEY, 'make', false);
  bad.start(KEY, 'make', false);
  ok.output(1, 'ok one\nok t');
  bad.output(2, 'bad one\n');
  ok.output(1, 'wo\n');
  logs.for('hit:build', 'hit').hit('local', KEY, [[1, 'replayed\n'], [2, 'warned\n']]);
  bad.output(1, 'bad two');
  ok.succeeded();
  bad.failed(2);
  return writes;
}

const lines = (writes: string[]): string[] => writes.join('').split('\n').filter(Boolean);
const HIT = 'hit:build: cache hit (local) abababababababab';
const MISS = (t: string): string => `${t}:build: cache miss abababababababab, running: make`;

describe('task logs', () => {
  it.each<[OutputLogs, string[]]>([
    ['full', [MISS('ok'), MISS('bad'), 'ok:build: ok one', 'bad:build: bad one', 'ok:build: ok two', `${HIT}, replaying logs`, 'hit:build: replayed', 'hit:build: warned', 'bad:build: bad two', 'bad:build: failed with exit code 2']],
    ['hash-only', [MISS('ok'), MISS('bad'), `${HIT}, suppressing logs`, 'bad:build: failed with exit code 2']],
    ['new-only', [MISS('ok'), MISS('bad'), 'ok:build: ok one', 'bad:build: bad one', 'ok:build: ok two', `${HIT}, suppressing logs`, 'bad:build: bad two', 'bad:build: failed with exit code 2']],
    ['errors-only', [MISS('bad'), 'bad:build: bad one', 'bad:build: bad two', 'bad:build: failed with exit code 2']],
    ['none', ['bad:build: failed with exit code 2']],
  ])('--output-logs=%s, streamed', (mode, expected) => {
    expect(lines(scenario(mode, 'stream'))).toEqual(expected);
  });

  it.each<[OutputLogs, string[][]]>([
    ['full', [[`${HIT}, replaying logs`, 'hit:build: replayed', 'hit:build: warned'], [MISS('ok'), 'ok:build: ok one', 'ok:build: ok two'], [MISS('bad'), 'bad:build: bad one', 'bad:build: bad two', 'bad:build: failed with exit code 2']]],
    ['hash-only', [[`${HIT}, suppressing logs`], [MISS('ok')], [MISS('bad'), 'bad:build: failed with exit code 2']]],
    ['new-only', [[`${HIT}, suppressing logs`], [MISS('ok'), 'ok:build: ok one', 'ok:build: ok two'], [MISS('bad'), 'bad:build: bad one', 'bad:build: bad two', 'bad:build: failed with exit code 2']]],
    ['errors-only', [[MISS('bad'), 'bad:build: bad one', 'bad:build: bad two', 'bad:build: failed with exit code 2']]],
    ['none', [['bad:build: failed with exit code 2']]],
  ])('--output-logs=%s, grouped: one write per task, when it ends', (mode, blocks) => {
    expect(scenario(mode, 'grouped').map((w) => lines([w]))).toEqual(blocks);
  });

  it('errors-only streams nothing until a task fails, then the whole task at once', () => {
    expect(scenario('errors-only', 'stream')).toHaveLength(1);
  });

  it('every mode is covered above', () => {
    expect([...OUTPUT_LOGS]).toEqual(['full', 'hash-only', 'new-only', 'errors-only', 'none']);
  });

  it('says cache bypass under --force', () => {
    const writes: string[] = [];
    const log = new TaskLogs({ outputLogs: 'full', logOrder: 'stream', color: false }, (t) => writes.push(t)).for('a:build', 'a');
    log.start(KEY, 'make', true);
    expect(writes).toEqual(['a:build: cache bypass abababababababab, force running: make\n']);
  });

  it('colours the whole prefix in the package\'s colour, the same for every task of a package', () => {
    const writes: string[] = [];
    const logs = new TaskLogs({ outputLogs: 'full', logOrder: 'stream', color: true }, (t) => writes.push(t));
    const a = logs.for('web:build', 'web');
    a.start(KEY, 'make', false);
    a.output(1, 'hello\n');
    logs.for('web:test', 'web').start(KEY, 'make', false);
    const paint = packagePaint('web');
    expect(writes).toEqual([
      `${paint('web:build:')} cache miss abababababababab, running: make\n`,
      `${paint('web:build:')} hello\n`,
      `${paint('web:test:')} cache miss abababababababab, running: make\n`,
    ]);
    expect(paint('x')).toMatch(new RegExp(`^${'\u001b'}\\[(3[2-6]|9[2-6])mx${'\u001b'}\\[39m$`));
  });
});

describe('colour decision', () => {
  const tty = { write: () => true, isTTY: true };
  const pipe = { write: () => true, isTTY: false };
  it.each<[string, Record<string, string>, typeof tty, boolean]>([
    ['terminal', {}, tty, true],
    ['pipe', {}, pipe, false],
    ['terminal, NO_COLOR=1', { NO_COLOR: '1' }, tty, false],
    ['terminal, empty NO_COLOR (does not count)', { NO_COLOR: '' }, tty, true],
    ['terminal, TERM=dumb', { TERM: 'dumb' }, tty, false],
    ['pipe, FORCE_COLOR=1', { FORCE_COLOR: '1' }, pipe, true],
    ['pipe, FORCE_COLOR (empty)', { FORCE_COLOR: '' }, pipe, true],
    ['pipe, FORCE_COLOR=3, NO_COLOR=1', { FORCE_COLOR: '3', NO_COLOR: '1' }, pipe, true],
    ['terminal, FORCE_COLOR=0', { FORCE_COLOR: '0' }, tty, false],
    ['terminal, FORCE_COLOR=false', { FORCE_COLOR: 'false' }, tty, false],
  ])('%s', (_name, env, stream, expected) => {
    expect(colorEnabled(env, stream)).toBe(expected);
  });

  it('gives a package the same colour every time and spreads packages over the palette', () => {
    expect(packagePaint('@scope/ui')('x')).toBe(packagePaint('@scope/ui')('x'));
    const codes = new Set(Array.from({ length: 40 }, (_, i) => packagePaint(`pkg-${i}`)('x')));
    expect(codes.size).toBeGreaterThanOrEqual(6);
  });
});
