// Parses a Dockerfile into stages of instructions, enough to reproduce it without a Docker engine.
// Fails closed: an instruction or flag the reproduction does not understand is an error, never
// skipped, so a Dockerfile cannot grow a step the check silently ignores (ADD, ONBUILD, heredocs).

const SUPPORTED = new Set(['FROM', 'WORKDIR', 'ENV', 'ARG', 'COPY', 'RUN', 'USER', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT', 'EXPOSE', 'VOLUME', 'LABEL', 'STOPSIGNAL']);

/** Logical lines: comments and parser directives dropped, backslash continuations joined. */
function logicalLines(text) {
  const out = [];
  let current = null;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (current === null && trimmed === '')) return;
    const continued = /\\$/.test(raw);
    const part = continued ? raw.replace(/\\$/, '') : raw;
    if (current === null) current = { line: index + 1, text: part };
    else current.text += ` ${part.trim()}`;
    if (!continued) {
      out.push({ line: current.line, text: current.text.trim() });
      current = null;
    }
  });
  if (current !== null) out.push({ line: current.line, text: current.text.trim() });
  return out;
}

/** A JSON array (exec form) when the argument is one, else null (shell form). */
function execForm(args) {
  if (!args.startsWith('[')) return null;
  try {
    const parsed = JSON.parse(args);
    if (Array.isArray(parsed) && parsed.every((s) => typeof s === 'string')) return parsed;
  } catch {
    // not JSON: Docker treats it as shell form too
  }
  return null;
}

/** Leading `--name=value` flags of COPY, FROM, HEALTHCHECK. */
function takeFlags(args) {
  const flags = {};
  let rest = args;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!m) break;
    flags[m[1]] = m[2] ?? 'true';
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** `a=b "c d"` words, quotes removed (ENV, LABEL, ARG). */
function words(text) {
  const out = [];
  const re = /(?:[^\s"']+|"(?:\\.|[^"\\])*"|'[^']*')+/g;
  for (const m of text.matchAll(re)) out.push(m[0]);
  return out;
}

function unquote(word) {
  return word.replace(/"((?:\\.|[^"\\])*)"|'([^']*)'/g, (_, dq, sq) => (dq !== undefined ? dq.replace(/\\(.)/g, '$1') : sq));
}

function parsePairs(args, line) {
  const list = words(args);
  if (list.length >= 2 && !list[0].includes('=')) return [[list[0], unquote(list.slice(1).join(' '))]]; // legacy `ENV key value`
  return list.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`line ${line}: expected key=value, got ${w}`);
    return [w.slice(0, eq), unquote(w.slice(eq + 1))];
  });
}

function parseInstruction({ line, text }) {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
  const keyword = m[1].toUpperCase();
  const args = m[2].trim();
  if (!SUPPORTED.has(keyword)) throw new Error(`line ${line}: ${keyword} is not supported by the reproduction; extend scripts/dockerfile-check before using it`);
  if (args.startsWith('<<') || /<<-?\s*["']?[A-Z]+["']?\s*$/.test(args)) throw new Error(`line ${line}: heredocs are not supported by the reproduction`);
  switch (keyword) {
    case 'FROM': {
      const { flags, rest } = takeFlags(`${args} `);
      const [image, as, name] = rest.trim().split(/\s+/);
      if (as !== undefined && as.toUpperCase() !== 'AS') throw new Error(`line ${line}: cannot parse FROM ${args}`);
      return { keyword, line, image, name, flags };
    }
    case 'COPY': {
      const { flags, rest } = takeFlags(`${args} `);
      for (const flag of Object.keys(flags)) {
        if (!['from', 'chown', 'chmod', 'link'].includes(flag)) throw new Error(`line ${line}: COPY --${flag} is not supported by the reproduction`);
      }
      const parts = execForm(rest.trim()) ?? rest.trim().split(/\s+/);
      if (parts.length < 2) throw new Error(`line ${line}: COPY needs a source and a destination`);
      return { keyword, line, flags, sources: parts.slice(0, -1), dest: parts.at(-1) };
    }
    case 'RUN': {
      const { flags, rest } = takeFlags(`${args} `);
      if (Object.keys(flags).length > 0) throw new Error(`line ${line}: RUN flags are not supported by the reproduction`);
      const exec = execForm(rest.trim());
      return { keyword, line, exec, shell: exec ? null : rest.trim() };
    }
    case 'HEALTHCHECK': {
      const { flags, rest } = takeFlags(`${args} `);
      const body = rest.trim();
      if (/^NONE$/i.test(body)) return { keyword, line, flags, none: true };
      const cm = /^CMD\s+([\s\S]+)$/i.exec(body);
      if (!cm) throw new Error(`line ${line}: cannot parse HEALTHCHECK ${args}`);
      const exec = execForm(cm[1]);
      return { keyword, line, flags, exec, shell: exec ? null : cm[1] };
    }
    case 'CMD':
    case 'ENTRYPOINT': {
      const exec = execForm(args);
      return { keyword, line, exec, shell: exec ? null : args };
    }
    case 'ENV':
    case 'LABEL':
      return { keyword, line, pairs: parsePairs(args, line) };
    case 'ARG': {
      const [pair] = words(args);
      const eq = pair.indexOf('=');
      return { keyword, line, name: eq < 0 ? pair : pair.slice(0, eq), value: eq < 0 ? undefined : unquote(pair.slice(eq + 1)) };
    }
    case 'VOLUME':
      return { keyword, line, paths: execForm(args) ?? args.split(/\s+/) };
    default:
      return { keyword, line, args };
  }
}

/**
 * Stages in order: `{ index, name, from, line, instructions }`. ARGs before the first FROM are
 * global (usable in FROM lines).
 */
export function parseDockerfile(text) {
  const stages = [];
  const globalArgs = {};
  for (const logical of logicalLines(text)) {
    const ins = parseInstruction(logical);
    if (ins.keyword === 'FROM') {
      const image = ins.image.replace(/\$\{?(\w+)\}?/g, (_, n) => globalArgs[n] ?? '');
      stages.push({ index: stages.length, name: ins.name, from: image, line: ins.line, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      globalArgs[ins.name] = ins.value ?? '';
    } else {
      stages.at(-1).instructions.push(ins);
    }
  }
  if (stages.length === 0) throw new Error('no FROM line: not a Dockerfile');
  return stages;
}
