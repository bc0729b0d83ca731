/**
 * lang/npm: installed npm packages, one per `node_modules/NAME/package.json` (or
 * `node_modules/@scope/NAME/package.json`), the same beneath Node's global folders, which `require`
 * searches after every `node_modules` (Module.globalPaths: `$HOME/.node_modules`,
 * `$HOME/.node_libraries`, `$PREFIX/lib/node`), and Debian's `/usr/share/nodejs/NAME/package.json`
 * (owned by dpkg, so `ownedBy` is set later). A package.json without name or version is skipped.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { npmPurl } from '../purl.js';

// `.node_modules`, `.node_libraries` and `lib/node` are Node's global folders (lib/internal/modules/cjs/loader.js
// initPaths), for any home and installation prefix: `require('lodash')` loads /root/.node_libraries/lodash.
const INSTALLED = /\/(?:\.?node_modules|\.node_libraries|lib\/node)\/(?:@[^/]+\/)?[^/@.][^/]*\/package\.json$/;
const DEBIAN = /^\/usr\/(?:share|lib)\/nodejs\/(?:@[^/]+\/)?[^/]+\/package\.json$/;

/**
 * True when `path` is a package.json Node loads as an installed package (beneath `node_modules` or a
 * global folder), the rule {@link npmAnalyzer} reads by; also applied to paths inside zip archives
 * (lang/npm-zip).
 */
export function isInstalledPackageJson(path: string): boolean {
  return INSTALLED.test(path);
}

/** Parses one installed package.json. */
export function parseInstalledPackageJson(text: string, path: string): FoundPackage | undefined {
  const j = JSON.parse(text) as { name?: unknown; version?: unknown };
  if (typeof j.name !== 'string' || typeof j.version !== 'string' || !j.name || !j.version) return undefined;
  return { ecosystem: 'npm', name: j.name, version: j.version, path, purl: npmPurl(j.name, j.version) };
}

/** The analyzer. */
export const npmAnalyzer: Analyzer = {
  name: 'lang/npm',
  version: 2,
  maxSize: 4 * 1024 * 1024,
  wants: (e) => e.path.endsWith('/package.json') && (INSTALLED.test(e.path) || DEBIAN.test(e.path)),
  names: { baseNames: ['package.json'] },
  analyze(input) {
    const p = parseInstalledPackageJson(input.content.toString('utf8'), input.path);
    return p ? { packages: [p] } : undefined;
  },
};
