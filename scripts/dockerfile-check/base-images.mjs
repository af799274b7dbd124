// Base images must be pinned to a tag (never `latest` or none) and, for Node, a maintained LTS:
// an even major of 22 or later (Node 20 reaches end of life in 2026).
const MIN_NODE_LTS = 22;

export function checkBaseImages(stages) {
  const failures = [];
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  for (const stage of stages) {
    if (names.has(stage.from) || stage.from === 'scratch') continue;
    const m = /^(?:(?<repo>[^:@]+))(?::(?<tag>[^@]+))?(?:@(?<digest>sha256:[0-9a-f]{64}))?$/.exec(stage.from);
    if (!m) {
      failures.push(`line ${stage.line}: cannot read the image reference ${stage.from}`);
      continue;
    }
    const { repo, tag, digest } = m.groups;
    if (!digest && (!tag || tag === 'latest')) failures.push(`line ${stage.line}: ${stage.from} is not pinned to a tag`);
    if (/(^|\/)node$/.test(repo)) {
      const major = Number(/^(\d+)/.exec(tag ?? '')?.[1]);
      if (!(major >= MIN_NODE_LTS && major % 2 === 0)) failures.push(`line ${stage.line}: ${stage.from} is not a maintained Node LTS (an even major >= ${MIN_NODE_LTS})`);
    }
  }
  return failures;
}
