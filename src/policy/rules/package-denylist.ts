/**
 * `match.packages`: a package denylist. An entry names an ecosystem (optional), a name or glob, and
 * versions: a node-semver range for npm, exact versions for every other ecosystem (their version
 * orders are not SemVer; see src/vulndb/ecosystems for those comparators).
 */
import { createRequire } from 'node:module';
import type * as Semver from 'semver';
import type { Package } from '../../core/inventory.js';
import { policyEcosystem, unknownEcosystemMessage } from '../ecosystems.js';
import type { PackageDenySpec, PolicyItem } from '../types.js';
import { ecosystemKey, glob, plural, type RuleCompiler } from './common.js';

// node-semver is loaded by the first policy with a denylist, not with the rule set (CommonJS).
const requireCjs = createRequire(import.meta.url);
let semverLib: typeof Semver | undefined;
const semver = (): typeof Semver => (semverLib ??= requireCjs('semver') as typeof Semver);

interface Entry {
  eco?: string;
  name: (s: string) => boolean;
  versions?: string[];
  label: string;
}

/** Compiles a package denylist rule. Unknown ecosystems and invalid npm ranges are problems at their position. */
export const compilePackageDenylistRule: RuleCompiler<PackageDenySpec[]> = (specs, _rule, at, problem) => {
  const entries: Entry[] = specs.map((s, i) => {
    const versions = s.versions === undefined ? undefined : Array.isArray(s.versions) ? s.versions : [s.versions];
    if (s.ecosystem !== undefined && policyEcosystem(s.ecosystem) === undefined) problem([...at, i, 'ecosystem'], unknownEcosystemMessage(s.ecosystem));
    const eco = s.ecosystem === undefined ? undefined : ecosystemKey(s.ecosystem);
    if (eco === 'npm' && versions) {
      versions.forEach((v, j) => {
        if (semver().validRange(v, { loose: true }) === null) {
          problem(Array.isArray(s.versions) ? [...at, i, 'versions', j] : [...at, i, 'versions'], `"${v}" is not a node-semver range (e.g. ">=3.3.6 <3.4.0", "1.2.3", "^2")`);
        }
      });
    }
    const label = `${s.ecosystem ? `${s.ecosystem}/` : ''}${s.name}${versions ? ` ${versions.join(' || ')}` : ''}`;
    return { eco, name: glob(s.name), versions, label };
  });

  const denied = (p: Package): Entry | undefined =>
    entries.find((e) => {
      const eco = ecosystemKey(p.ecosystem);
      if (e.eco !== undefined && e.eco !== eco) return false;
      if (!e.name(p.name)) return false;
      if (!e.versions) return true;
      if (eco === 'npm') {
        return e.versions.some((r) => semver().valid(p.version, { loose: true }) !== null && semver().satisfies(p.version, r, { loose: true, includePrerelease: true }));
      }
      return e.versions.includes(p.version);
    });

  return {
    match: (ctx) => {
      const out: PolicyItem[] = [];
      for (const p of ctx.input.packages) {
        const e = denied(p);
        if (!e) continue;
        const item: PolicyItem = {
          id: p.name,
          ecosystem: p.ecosystem,
          package: p.name,
          installedVersion: p.version,
          path: p.path,
          text: `${p.name} ${p.version} (${p.ecosystem}, ${p.path}) is denied by "${e.label}"`,
        };
        if (p.layer) item.layer = p.layer;
        if (p.origin) item.origin = p.origin;
        out.push(item);
      }
      return out;
    },
    describe: (items) => plural(items.length, 'denied package', 'denied packages'),
    advice: 'Remove these packages or replace them with allowed versions',
  };
};
