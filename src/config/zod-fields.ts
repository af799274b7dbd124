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
