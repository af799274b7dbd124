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
