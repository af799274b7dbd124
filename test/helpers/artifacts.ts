import { createHash, randomBytes } from 'node:crypto';

export interface TestArtifact {
  readonly body: Buffer;
  readonly size: number;
  readonly sha256: string;
  readonly md5: string;
}

export function artifact(body: Buffer | string = randomBytes(1024)): TestArtifact {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return {
    body: b,
    size: b.length,
    sha256: createHash('sha256').update(b).digest('hex'),
    md5: createHash('md5').update(b).digest('base64'),
  };
}

export function uniqueHash(prefix = 'h'): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}
