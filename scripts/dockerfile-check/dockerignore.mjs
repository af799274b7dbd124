// .dockerignore semantics (moby/patternmatcher): patterns are relative to the context root (not
// matched at any depth as in .gitignore), `**` spans directories, a later `!pattern` re-includes,
// and a path is excluded when it or one of its parent directories matches.

function patternToRegExp(pattern) {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      const slash = pattern[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function clean(p) {
  return p.replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.\//, '');
}

/** Returns `isExcluded(relativePath)` for the .dockerignore text (empty text excludes nothing). */
export function dockerignoreMatcher(text) {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      return { negate, re: patternToRegExp(clean(negate ? l.slice(1) : l)) };
    });
  return (relativePath) => {
    const parts = clean(relativePath).split('/');
    let excluded = false;
    for (const rule of rules) {
      for (let n = 1; n <= parts.length; n++) {
        if (rule.re.test(parts.slice(0, n).join('/'))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}
