// `chown` inside a reproduced RUN line: the base image's users (node, root) may not exist on the
// host. Records `user path` lines for the run-time checks and, when running as root, gives the
// path to the user's id in the base image so a process started as that user meets real permissions.
import { appendFileSync, chownSync } from 'node:fs';
import { resolve } from 'node:path';
import { BASE_USERS } from './reproduce.mjs';

const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const [owner, ...paths] = args;
const [user, group = user] = (owner ?? '').split(':');
const uid = BASE_USERS[user] ?? (/^\d+$/.test(user) ? Number(user) : undefined);
const gid = BASE_USERS[group] ?? (/^\d+$/.test(group) ? Number(group) : undefined);
if (uid === undefined || gid === undefined || paths.length === 0) {
  process.stderr.write(`chown: unknown user or group in ${owner} (the base image has ${Object.keys(BASE_USERS).join(', ')})\n`);
  process.exit(1);
}
for (const p of paths) {
  const abs = resolve(p);
  appendFileSync(process.env.VELOCITY_REPRO_CHOWN_LOG, `${user} ${abs}\n`);
  if (process.getuid?.() === 0) chownSync(abs, uid, gid);
}
