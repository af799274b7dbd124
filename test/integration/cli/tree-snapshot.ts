import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** path -> "dir 755" | "file 644 <sha256>" | "link <target>", for every entry under the roots. */
export async function snapshot(base: string, roots: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (rel: string): Promise<void> => {
    const abs = join(base, rel);
    let info;
    try {
      info = await lstat(abs);
    } catch {
      return;
    }
    const mode = (info.mode & 0o777).toString(8);
    if (info.isSymbolicLink()) out[rel] = `link ${await readlink(abs)}`;
    else if (info.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const child of (await readdir(abs)).sort()) await visit(`${rel}/${child}`);
    } else out[rel] = `file ${mode} ${createHash('sha256').update(await readFile(abs)).digest('hex')}`;
  };
  for (const r of roots) await visit(r);
  return out;
}
