/**
 * lang/pnpm-lock: `pnpm-lock.yaml` (lockfile v5: `/name/1.0.0`, v6: `/name@1.0.0`, v9: `name@1.0.0`
 * under `packages`; peer suffixes `(…)` and `_peer@x` stripped). Parsed with the `yaml` library.
 * pnpm installs into `node_modules/.pnpm`, so `installPath` is `DIR/node_modules/NAME` only for
 * the symlinked top level; entries are kept unless that artefact is found.
 */
import { yamlPackage } from '../../core/yaml-package.js';
import type { Analyzer } from './types.js';
import { lockPackages, type LockEntry } from './npm-lock.js';

// yaml is loaded by the first pnpm lock file (yamlPackage), not with the analyzer set (most layers have none).

/** Splits a pnpm package key into name and version. */
export function parsePnpmKey(key: string): { name: string; version: string } | undefined {
  let k = key.startsWith('/') ? key.slice(1) : key;
  k = k.replace(/\(.*$/, '');
  const v5 = /^((?:@[^/]+\/)?[^/@]+)\/(\d[^/]*)$/.exec(k);
  if (v5) return { name: v5[1], version: v5[2].replace(/_.*$/, '') };
  const at = k.indexOf('@', 1);
  if (at > 0) return { name: k.slice(0, at), version: k.slice(at + 1).replace(/_.*$/, '') };
  const parts = k.split('/');
  if (parts.length < 2) return undefined;
  const version = parts.pop()!.replace(/_.*$/, '');
  return { name: parts.join('/'), version };
}

/** Parses pnpm-lock.yaml text into entries. */
export function parsePnpmLock(text: string): LockEntry[] {
  const doc = yamlPackage().parse(text) as { packages?: Record<string, { version?: string; name?: string }> } | null;
  const out = new Map<string, LockEntry>();
  for (const [key, v] of Object.entries(doc?.packages ?? {})) {
    const p = parsePnpmKey(key);
    if (!p) continue;
    const name = v?.name ?? p.name;
    const version = v?.version && /^\d/.test(v.version) ? v.version : p.version;
    if (!/^\d/.test(version)) continue; // tarball, git, link: not a registry version
    out.set(`${name}@${version}`, { name, version, location: `node_modules/${name}` });
  }
  return [...out.values()];
}

/** The analyzer. */
export const pnpmLockAnalyzer: Analyzer = {
  name: 'lang/pnpm-lock',
  version: 1,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => e.path.endsWith('/pnpm-lock.yaml') && !e.path.includes('/node_modules/'),
  names: { baseNames: ['pnpm-lock.yaml'] },
  analyze(input) {
    return { packages: lockPackages(parsePnpmLock(input.content.toString('utf8')), input.path) };
  },
};
