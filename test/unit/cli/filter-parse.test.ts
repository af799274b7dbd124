import { describe, expect, it } from '@jest/globals';
import { UsageError } from '../../../src/cli/errors.js';
import { parseSelector, type Selector } from '../../../src/cli/workspace/filter-parse.js';

const base = { exclude: false, includeDependencies: false, includeDependents: false, excludeSelf: false, matchDependencies: false };
const sel = (raw: string, parts: Partial<Selector>): Selector => ({ raw, ...base, ...parts });

describe('--filter selector parsing', () => {
  it.each<[string, Partial<Selector>]>([
    ['web', { name: 'web' }],
    ['@scope/ui', { name: '@scope/ui' }],
    ['@scope/*', { name: '@scope/*' }],
    ['*', { name: '*' }],
    ['ui.core', { name: 'ui.core' }],
    ['web...', { name: 'web', includeDependencies: true }],
    ['...web', { name: 'web', includeDependents: true }],
    ['...web...', { name: 'web', includeDependents: true, includeDependencies: true }],
    ['web^...', { name: 'web', includeDependencies: true, excludeSelf: true }],
    ['...^web', { name: 'web', includeDependents: true, excludeSelf: true }],
    ['./packages/ui', { directory: 'packages/ui' }],
    ['./packages/*', { directory: 'packages/*' }],
    ['./packages/ui/', { directory: 'packages/ui' }],
    ['.', { directory: '.' }],
    ['.\\packages\\ui', { directory: 'packages/ui' }],
    ['{packages/ui}', { directory: 'packages/ui' }],
    ['{./apps/*}', { directory: 'apps/*' }],
    ['...{./packages/ui}', { directory: 'packages/ui', includeDependents: true }],
    ['./packages/ui...', { directory: 'packages/ui', includeDependencies: true }],
    ['[HEAD^1]', { gitRange: { from: 'HEAD^1' } }],
    ['[main...HEAD]', { gitRange: { from: 'main', to: 'HEAD' } }],
    ['[origin/main...feature/x]', { gitRange: { from: 'origin/main', to: 'feature/x' } }],
    ['...[HEAD^1]', { gitRange: { from: 'HEAD^1' }, includeDependents: true }],
    ['[HEAD^1]...', { gitRange: { from: 'HEAD^1' }, includeDependencies: true }],
    ['...^[HEAD^1]', { gitRange: { from: 'HEAD^1' }, includeDependents: true, excludeSelf: true }],
    ['...[main...HEAD]...', { gitRange: { from: 'main', to: 'HEAD' }, includeDependents: true, includeDependencies: true }],
    ['{./apps/*}[main]', { directory: 'apps/*', gitRange: { from: 'main' } }],
    ['@scope/*{packages/*}[main]', { name: '@scope/*', directory: 'packages/*', gitRange: { from: 'main' } }],
    ['web...[HEAD^1]', { name: 'web', gitRange: { from: 'HEAD^1' }, matchDependencies: true }],
    ['web...[HEAD^1]...', { name: 'web', gitRange: { from: 'HEAD^1' }, matchDependencies: true, includeDependencies: true }],
    ['{packages/ui}...[main]', { directory: 'packages/ui', gitRange: { from: 'main' }, matchDependencies: true }],
    ['!web', { name: 'web', exclude: true }],
    ['!@scope/*', { name: '@scope/*', exclude: true }],
    ['!./packages/*', { directory: 'packages/*', exclude: true }],
    ['!...web', { name: 'web', exclude: true, includeDependents: true }],
    ['![HEAD]', { gitRange: { from: 'HEAD' }, exclude: true }],
  ])('%s', (raw, parts) => {
    expect(parseSelector(raw)).toEqual(sel(raw, parts));
  });

  it.each([
    ['', 'needs a package name, a directory or a git range'],
    ['!', 'needs a package name, a directory or a git range'],
    ['...', 'needs a package name, a directory or a git range'],
    ['{}', 'empty directory in {}'],
    ['[]', 'empty git range in []'],
    ['......[main]', '...[range] needs a package name or a directory'],
    ['web{a}{b}', 'not a selector'],
    ['we[b', 'not a selector'],
    ['web}', 'not a selector'],
    ['{/abs}', 'relative to the repository root'],
    ['../elsewhere', 'outside the repository root'],
    ['{packages/../../x}', 'outside the repository root'],
    ['[--output=/tmp/x]', '"--output=/tmp/x" is not a git revision'],
    ['[main...-x]', '"-x" is not a git revision'],
    ['[main...]', '"" is not a git revision'],
    ['[a b]', 'is not a git revision'],
  ])('rejects %j: %s', (raw, message) => {
    let error: unknown;
    try {
      parseSelector(raw);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).toMatch(/^--filter "/);
  });
});
