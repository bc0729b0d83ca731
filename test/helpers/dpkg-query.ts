/**
 * Debian's own dpkg-query as the oracle of the dpkg status tests: an empty admin directory to write a
 * status file into, and what dpkg-query lists from it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The `db:Status-Status` values whose packages have files on disk (what a scanner must report). */
export const ON_DISK: ReadonlySet<string> = new Set(['half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending', 'installed']);

/** A new, empty dpkg admin directory under the temp directory (`status` is written by the caller). */
export function dpkgAdmindir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.mkdirSync(path.join(dir, 'info'));
  fs.mkdirSync(path.join(dir, 'updates'));
  fs.writeFileSync(path.join(dir, 'available'), '');
  return dir;
}

/**
 * `name version` of the packages dpkg-query lists from `admindir` whose status is in `statuses`
 * (sorted), or undefined when dpkg refuses the file (a non-zero exit).
 */
export function dpkgQuery(admindir: string, statuses: ReadonlySet<string> = ON_DISK): string[] | undefined {
  const r = spawnSync('dpkg-query', [`--admindir=${admindir}`, '-W', '-f', '${db:Status-Status} ${Package} ${Version}\n'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([st]) => statuses.has(st!)).map(([, n, v]) => `${n} ${v}`).sort();
}
