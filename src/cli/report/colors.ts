import type { TextSink } from '../io.js';

type Env = Readonly<Record<string, string | undefined>>;

const isOff = (v: string): boolean => v === '0' || v.toLowerCase() === 'false';

/**
 * Colour for a stream, by the common conventions (https://no-color.org, FORCE_COLOR as Node and
 * chalk read it): FORCE_COLOR set to anything but `0`/`false` forces colour on, even in a pipe,
 * and `0`/`false` forces it off; otherwise a non-empty NO_COLOR turns it off; otherwise colour
 * only on a terminal that is not `TERM=dumb`.
 */
export function colorEnabled(env: Env, stream: TextSink): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !isOff(force);
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** Foreground colours that read on dark and light terminals (turbo's five, and their bright twins). */
const PALETTE = [36, 35, 32, 33, 34, 96, 95, 92, 93, 94] as const;

/** FNV-1a: a package keeps its colour from run to run and machine to machine. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export type Paint = (text: string) => string;

export const plain: Paint = (text) => text;

/** The colour of a package's prefixes, chosen by its name. */
export function packagePaint(name: string): Paint {
  const code = PALETTE[hash(name) % PALETTE.length] as number;
  return (text) => `\u001b[${code}m${text}\u001b[39m`;
}
