/**
 * lang/yarn-lock: `yarn.lock` of Yarn 1 (`"name@range", name@range2:` + `  version "1.2.3"`) and
 * Yarn 2+ (Berry, YAML-like: `"name@npm:range":` + `  version: 1.2.3`). Workspace, link, portal and
 * patch-only entries are skipped. Each entry's `installPath` is `DIR/node_modules/NAME` (hoisted).
 */
import type { Analyzer } from './types.js';
import { lockPackages, type LockEntry } from './npm-lock.js';

/** Name of a descriptor such as `@babel/core@^7.0.0` or `lodash@npm:^4.17.0`. */
function descriptorName(d: string): string {
  const s = d.trim().replace(/^"|"$/g, '');
  const at = s.indexOf('@', 1);
  return at > 0 ? s.slice(0, at) : s;
}

/** Parses yarn.lock text into entries (deduplicated by name@version). */
export function parseYarnLock(text: string): LockEntry[] {
  const out = new Map<string, LockEntry>();
  let names: string[] = [];
  let skip = false;
  for (const raw of text.split(/\r?\n/)) {
    if (!raw || raw.startsWith('#')) continue;
    if (raw[0] !== ' ') {
      const header = raw.replace(/:$/, '');
      skip = header.startsWith('__metadata') || /@(?:workspace|link|portal|file):/.test(header);
      names = header.split(/,\s*/).map(descriptorName);
      continue;
    }
    const m = /^ {2}version:? "?([^"\s]+)"?$/.exec(raw);
    if (m && !skip && names[0]) {
      const name = names[0];
      out.set(`${name}@${m[1]}`, { name, version: m[1], location: `node_modules/${name}` });
    }
  }
  return [...out.values()];
}

/** The analyzer. */
export const yarnLockAnalyzer: Analyzer = {
  name: 'lang/yarn-lock',
  version: 1,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => e.path.endsWith('/yarn.lock') && !e.path.includes('/node_modules/'),
  names: { baseNames: ['yarn.lock'] },
  analyze(input) {
    return { packages: lockPackages(parseYarnLock(input.content.toString('utf8')), input.path) };
  },
};
