/**
 * lang/npm-lock: npm `package-lock.json` (and `npm-shrinkwrap.json`), lockfileVersion 1 (nested
 * `dependencies`), 2 and 3 (flat `packages` keyed by install location), following npm's
 * @npmcli/arborist reading: every node except the project root; link entries are skipped (their target
 * is its own entry); entries without a version are skipped. Each entry carries `installPath` so the
 * engine can drop it when the installed artefact is present at that location.
 * Lock files inside node_modules (`node_modules/.package-lock.json`) are not read: they describe
 * the installed tree, which lang/npm already reports.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { baseName, dirName } from './types.js';
import { npmPurl } from '../purl.js';

interface V1Dep { version?: string; dependencies?: Record<string, V1Dep>; bundled?: boolean }
interface V2Entry { name?: string; version?: string; link?: boolean; resolved?: string }

/** A package-lock entry: name, version and node_modules location relative to the lock file. */
export interface LockEntry { name: string; version: string; location: string }

function nameFromLocation(loc: string): string {
  const i = loc.lastIndexOf('node_modules/');
  return i >= 0 ? loc.slice(i + 'node_modules/'.length) : baseName(loc);
}

/** Parses package-lock.json text (any lockfileVersion) into entries. */
export function parsePackageLock(text: string): LockEntry[] {
  const j = JSON.parse(text) as { lockfileVersion?: number; packages?: Record<string, V2Entry>; dependencies?: Record<string, V1Dep> };
  const out: LockEntry[] = [];
  if (j.packages && typeof j.packages === 'object') {
    const linkNames = new Map<string, string>();
    for (const [loc, e] of Object.entries(j.packages)) {
      if (e?.link && typeof e.resolved === 'string') linkNames.set(e.resolved, nameFromLocation(loc));
    }
    for (const [loc, e] of Object.entries(j.packages)) {
      if (loc === '' || !e || e.link || typeof e.version !== 'string' || !e.version) continue;
      const name = e.name ?? (loc.includes('node_modules/') ? nameFromLocation(loc) : linkNames.get(loc) ?? baseName(loc));
      out.push({ name, version: e.version, location: loc });
    }
    return out;
  }
  const walk = (deps: Record<string, V1Dep> | undefined, prefix: string) => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      const loc = `${prefix}node_modules/${name}`;
      if (typeof d?.version === 'string' && d.version && !d.version.startsWith('file:')) out.push({ name, version: d.version, location: loc });
      walk(d?.dependencies, `${loc}/`);
    }
  };
  walk(j.dependencies, '');
  return out;
}

/** Turns lock entries into packages reported at the lock file's path. */
export function lockPackages(entries: LockEntry[], lockPath: string): FoundPackage[] {
  const dir = dirName(lockPath);
  return entries.map((e) => ({
    ecosystem: 'npm',
    name: e.name,
    version: e.version,
    path: lockPath,
    purl: npmPurl(e.name, e.version),
    installPath: `${dir === '/' ? '' : dir}/${e.location}`,
  }));
}

/** The analyzer. */
export const npmLockAnalyzer: Analyzer = {
  name: 'lang/npm-lock',
  version: 1,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => (e.path.endsWith('/package-lock.json') || e.path.endsWith('/npm-shrinkwrap.json')) && !e.path.includes('/node_modules/'),
  analyze(input) {
    return { packages: lockPackages(parsePackageLock(input.content.toString('utf8')), input.path) };
  },
};
