import { chmodSync, createWriteStream, linkSync, lstatSync, mkdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { ArtifactIntegrityError } from '../errors.js';
import { safeRelative } from './safe-path.js';

const SMALL_FILE = 256 * 1024;

/**
 * Writes the `outputs/` entries of a task archive into `cwd`, streaming each file (constant
 * memory, with backpressure). Made for our own archives, and safe against hostile ones: only
 * files, folders and links; no absolute paths or `..`; nothing is ever written through a
 * symlink (a link created earlier in the archive or found on disk). Modes are restored exactly;
 * folder modes last, so read-only folders can still be filled.
 */
export class OutputExtractor {
  readonly parser: Parser;
  readonly #cwd: string;
  readonly #prefix: string;
  readonly #writes: Array<Promise<void>> = [];
  readonly #dirModes: Array<[string, number]> = [];
  readonly #links: Array<[string, string]> = [];
  readonly #checked = new Set<string>();
  /** Folders this extraction created: nothing can be in them but what it wrote itself. */
  readonly #fresh = new Set<string>();
  readonly #written = new Set<string>();
  readonly #umask = process.umask();
  #error: Error | undefined;

  constructor(cwd: string, prefix: string, onOther: (entry: ReadEntry) => void) {
    this.#cwd = cwd;
    this.#prefix = `${prefix}/`;
    this.parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (this.#error) return entry.resume();
        if (!entry.path.startsWith(this.#prefix)) return onOther(entry);
        try {
          this.#entry(entry);
        } catch (err) {
          this.#error = err as Error;
          entry.resume();
        }
      },
    });
  }

  #fail(message: string): never {
    throw new ArtifactIntegrityError(message);
  }

  /** Every folder between cwd and `rel` exists as a real folder (created if needed), never a link. */
  #ensureParents(rel: string): void {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.#checked.has(dir)) continue;
      const abs = join(this.#cwd, dir);
      const info = lstatSync(abs, { throwIfNoEntry: false });
      if (!info) {
        mkdirSync(abs);
        this.#fresh.add(dir);
      } else if (info.isSymbolicLink()) this.#fail(`archive writes through the symlink ${dir}`);
      else if (!info.isDirectory()) {
        unlinkSync(abs);
        mkdirSync(abs);
      }
      this.#checked.add(dir);
    }
  }

  /** Clears the way for a new file or link at `rel` (never following a link that is there). */
  #replace(rel: string, abs: string): void {
    const slash = rel.lastIndexOf('/');
    const parent = slash === -1 ? '' : rel.slice(0, slash);
    const seen = this.#written.has(rel);
    this.#written.add(rel);
    // In a folder we just created, only an earlier entry of this archive could be in the way.
    if (!seen && this.#fresh.has(parent)) return;
    const info = lstatSync(abs, { throwIfNoEntry: false });
    if (!info) return;
    if (info.isDirectory()) this.#fail(`archive replaces the folder ${abs} with a file`);
    unlinkSync(abs);
  }

  #entry(entry: ReadEntry): void {
    const rel = safeRelative(entry.path.slice(this.#prefix.length));
    if (rel === null) this.#fail(`archive entry has an unsafe path: ${entry.path}`);
    this.#ensureParents(rel);
    const abs = join(this.#cwd, rel);
    const mode = (entry.mode ?? 0o644) & 0o7777;
    switch (entry.type) {
      case 'Directory': {
        const info = lstatSync(abs, { throwIfNoEntry: false });
        if (info?.isSymbolicLink()) this.#fail(`archive writes through the symlink ${rel}`);
        if (!info) {
          mkdirSync(abs);
          this.#fresh.add(rel);
        }
        this.#checked.add(rel);
        // A folder we just created has 0o777 minus the umask: set the mode only if that differs.
        if (info || mode !== (0o777 & ~this.#umask)) this.#dirModes.push([abs, mode]);
        entry.resume();
        return;
      }
      case 'File':
      case 'OldFile':
      case 'ContiguousFile': {
        this.#replace(rel, abs);
        if ((entry.size ?? 0) <= SMALL_FILE) {
          // Small files (most build outputs) in one write call: a write stream per file costs
          // more than the bytes. Memory stays bounded by SMALL_FILE.
          const chunks: Buffer[] = [];
          entry.on('data', (c: Buffer) => chunks.push(c));
          this.#writes.push(
            once(entry, 'end').then(async () => {
              await writeFile(abs, Buffer.concat(chunks), { mode });
              // New files get `mode` minus the umask: fix that only when it matters.
              if ((mode & this.#umask) !== 0) await chmod(abs, mode);
            }),
          );
          return;
        }
        const out = createWriteStream(abs, { mode });
        const done = Promise.all([once(out, 'close'), once(entry, 'end')]).then(() => chmodSync(abs, mode));
        done.catch(() => undefined);
        out.on('error', (err) => {
          this.#error ??= err;
          entry.resume();
        });
        entry.pipe(out);
        this.#writes.push(done);
        return;
      }
      case 'SymbolicLink': {
        this.#replace(rel, abs);
        symlinkSync(entry.linkpath ?? '', abs);
        this.#checked.delete(rel);
        entry.resume();
        return;
      }
      case 'Link': {
        const target = safeRelative((entry.linkpath ?? '').slice(this.#prefix.length));
        if (!entry.linkpath?.startsWith(this.#prefix) || target === null) this.#fail(`archive hard link has an unsafe target: ${entry.linkpath}`);
        this.#replace(rel, abs);
        // After every file is written (finish()): the target may still be on its way to disk.
        this.#links.push([join(this.#cwd, target), abs]);
        entry.resume();
        return;
      }
      default:
        this.#fail(`archive entry ${entry.path} has an unsupported type (${entry.type})`);
    }
  }

  /** Waits for every file, applies folder modes, and rethrows the first problem. */
  async finish(): Promise<void> {
    await Promise.allSettled(this.#writes);
    if (this.#error) throw this.#error;
    await Promise.all(this.#writes);
    for (const [target, abs] of this.#links) linkSync(target, abs);
    for (const [abs, mode] of this.#dirModes.reverse()) chmodSync(abs, mode);
  }
}
