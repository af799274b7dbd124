import { z } from 'zod';

/** Field types shared by every config schema: real values from YAML, strings from the environment. */

/** Accepts real booleans (YAML) and the usual strings (environment). */
export const flag = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  return v;
}, z.boolean());

export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A comma-separated environment value or a YAML list. */
export const list = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
      : v,
  z.array(z.string().min(1)),
);

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A length of time in seconds: a number (seconds), or a string such as `500ms`, `30s`, `15m`,
 * `24h`, `7d` (a bare number is seconds, as every older setting reads it).
 */
export const duration = (minSeconds: number, maxSeconds: number) =>
  z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      const m = DURATION.exec(v.trim().toLowerCase());
      if (!m) return v;
      return Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1);
    },
    z
      .number({ error: 'must be a duration such as 30s, 15m, 24h or a number of seconds' })
      .min(minSeconds, `must be at least ${minSeconds} seconds`)
      .max(maxSeconds, `must be at most ${maxSeconds} seconds`),
  );

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?$/;
const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** Formats a byte count the way operators write it (`64MiB`), for messages. */
export function formatBytes(n: number): string {
  for (const [unit, factor] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= factor && n % factor === 0) return `${n / factor}${unit}`;
  }
  return `${n} bytes`;
}

/**
 * A number of bytes: a number, or a string such as `64MiB`, `10GiB`, `512KiB`, `5GB` (binary
 * units are powers of 1024, decimal ones of 1000; a bare number is bytes, as older settings read it).
 */
export const byteSize = (min: number, max: number) =>
  z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      const m = SIZE.exec(v.trim().toLowerCase());
      if (!m) return v;
      return Math.round(Number(m[1]) * (UNIT_BYTES[m[2] ?? 'b'] ?? 1));
    },
    z
      .number({ error: 'must be a size such as 64MiB, 10GiB or a number of bytes' })
      .int('must be a whole number of bytes')
      .min(min, `must be at least ${formatBytes(min)}`)
      .max(max, `must be at most ${formatBytes(max)}`),
  );

/**
 * A URL with one of the given schemes. `new URL('minio:9000')` parses (scheme `minio:`), so a URL
 * written without its scheme would otherwise pass and fail much later.
 */
export const urlWithScheme = (...schemes: readonly string[]) =>
  z
    .string()
    .refine((v) => {
      try {
        const u = new URL(v);
        return schemes.includes(u.protocol.slice(0, -1)) && u.hostname !== '';
      } catch {
        return false;
      }
    }, `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`);

export const httpUrl = urlWithScheme('http', 'https');
