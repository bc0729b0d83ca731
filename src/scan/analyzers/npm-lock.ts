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
import { formatPurl, npmPurl } from '../purl.js';

interface V1Dep { version?: string; dependencies?: Record<string, V1Dep>; bundled?: boolean }
interface V2Entry { name?: string; version?: string; link?: boolean; resolved?: string }

/**
 * A package-lock entry: name, version and node_modules location relative to the lock file; for a git
 * dependency also the repository (credentials removed) and the commit it is locked to.
 */
export interface LockEntry { name: string; version: string; location: string; git?: { repo: string; commit: string } }

/** Ecosystem of dependencies installed from a git repository at a commit (OSV `GIT` ranges name such commits). */
export const GIT_ECOSYSTEM = 'GIT';

/**
 * A git dependency spec as npm writes it in `resolved` (v2/v3) or `version` (v1): `git+ssh://git@host/o/r.git#<sha>`,
 * `git+https://…#<sha>`, `github:o/r#<sha>`. The repository as an https URL without credentials or `.git`
 * (OSV GIT ranges name repositories so), and the commit; undefined for anything else.
 */
export function parseGitSpec(spec: string | undefined): { repo: string; commit: string } | undefined {
  if (!spec) return undefined;
  const m = /^(?:git\+)?(ssh|https?|git):\/\/(?:[^@/]*@)?([^/:]+)(?::\d+)?[/:](.+?)(?:\.git)?#([0-9a-f]{7,40})$/i.exec(spec)
    ?? /^(?:git\+ssh:\/\/)?git@([^:/]+)[:/](.+?)(?:\.git)?#([0-9a-f]{7,40})$/i.exec(spec);
  if (m && m.length === 5) return { repo: `https://${m[2].toLowerCase()}/${m[3]}`, commit: m[4].toLowerCase() };
  if (m) return { repo: `https://${m[1].toLowerCase()}/${m[2]}`, commit: m[3].toLowerCase() };
  const h = /^(github|gitlab|bitbucket):([^#]+?)(?:\.git)?#([0-9a-f]{7,40})$/i.exec(spec);
  if (h) return { repo: `https://${h[1].toLowerCase()}.${h[1].toLowerCase() === 'bitbucket' ? 'org' : 'com'}/${h[2]}`, commit: h[3].toLowerCase() };
  return undefined;
}

/** `npm:<real name>@<version>`: an aliased dependency is package `<real name>`. */
function parseAlias(version: string): { name: string; version: string } | undefined {
  const m = /^npm:((?:@[^/@]+\/)?[^@]+)@(.+)$/.exec(version);
  return m ? { name: m[1], version: m[2] } : undefined;
}

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
      if (loc === '' || !e || e.link) continue;
      // a git dependency is locked by its commit, with or without a declared version
      const git = parseGitSpec(e.resolved);
      const version = typeof e.version === 'string' && e.version ? e.version : git?.commit;
      if (!version) continue;
      const name = e.name ?? (loc.includes('node_modules/') ? nameFromLocation(loc) : linkNames.get(loc) ?? baseName(loc));
      const alias = parseAlias(version);
      out.push({ name: alias?.name ?? name, version: alias?.version ?? version, location: loc, ...(git ? { git } : {}) });
    }
    return out;
  }
  const walk = (deps: Record<string, V1Dep> | undefined, prefix: string) => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      const loc = `${prefix}node_modules/${name}`;
      if (typeof d?.version === 'string' && d.version && !d.version.startsWith('file:')) {
        // v1 writes an alias as `npm:real@1.2.3` and a git dependency as its spec in `version`
        const alias = parseAlias(d.version);
        const git = parseGitSpec(d.version);
        if (alias) out.push({ name: alias.name, version: alias.version, location: loc });
        else if (git) out.push({ name, version: git.commit, location: loc, git });
        else out.push({ name, version: d.version, location: loc });
      }
      walk(d?.dependencies, `${loc}/`);
    }
  };
  walk(j.dependencies, '');
  return out;
}

/**
 * Turns lock entries into packages reported at the lock file's path. A git dependency is package
 * `<repository>` of ecosystem `GIT` at its commit (the npm name and version it declares are its
 * `sourceName`/`sourceVersion`): it is no registry release, so npm advisories do not describe it.
 */
export function lockPackages(entries: LockEntry[], lockPath: string): FoundPackage[] {
  const dir = dirName(lockPath);
  return entries.map((e) => (e.git ? {
    ecosystem: GIT_ECOSYSTEM,
    name: e.git.repo,
    version: e.git.commit,
    sourceName: e.name,
    sourceVersion: e.version === e.git.commit ? undefined : e.version,
    path: lockPath,
    purl: formatPurl({ type: 'npm', namespace: e.name.startsWith('@') ? e.name.split('/')[0] : undefined, name: e.name.startsWith('@') ? e.name.split('/')[1] : e.name, qualifiers: { vcs_url: `git+${e.git.repo}@${e.git.commit}` } }),
  } : {
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
  version: 2,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => (e.path.endsWith('/package-lock.json') || e.path.endsWith('/npm-shrinkwrap.json')) && !e.path.includes('/node_modules/'),
  names: { baseNames: ['package-lock.json', 'npm-shrinkwrap.json'] },
  analyze(input) {
    return { packages: lockPackages(parsePackageLock(input.content.toString('utf8')), input.path) };
  },
};
