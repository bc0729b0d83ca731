/**
 * lang/composer: installed PHP packages from `vendor/composer/installed.json`, which Composer
 * writes in two shapes: 1.x a JSON array of packages, 2.x `{"packages": [...], "dev": …,
 * "dev-package-names": [...]}`. Each package has `name` (`vendor/project`) and `version`
 * (as the author tagged it, e.g. `v6.3.0`). purl `pkg:composer/VENDOR/PROJECT@VERSION`, OSV
 * ecosystem Packagist.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

interface ComposerPkg { name?: unknown; version?: unknown }

/**
 * Parses installed.json (v1 or v2).
 * @throws SyntaxError on invalid JSON (a `parse-error` diagnostic).
 */
export function parseComposerInstalled(text: string, path: string): FoundPackage[] {
  const j = JSON.parse(text) as ComposerPkg[] | { packages?: ComposerPkg[] };
  const list = Array.isArray(j) ? j : Array.isArray(j.packages) ? j.packages : [];
  const out: FoundPackage[] = [];
  for (const p of list) {
    if (typeof p?.name !== 'string' || typeof p.version !== 'string' || !p.name || !p.version) continue;
    const slash = p.name.indexOf('/');
    out.push({
      ecosystem: 'Packagist', name: p.name, version: p.version, path,
      purl: formatPurl({ type: 'composer', namespace: slash > 0 ? p.name.slice(0, slash) : undefined, name: slash > 0 ? p.name.slice(slash + 1) : p.name, version: p.version }),
    });
  }
  return out;
}

/** The analyzer. */
export const composerAnalyzer: Analyzer = {
  name: 'lang/composer',
  version: 1,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => e.path.endsWith('/vendor/composer/installed.json'),
  names: { baseNames: ['installed.json'] },
  analyze(input) {
    const packages = parseComposerInstalled(input.content.toString('utf8'), input.path);
    return packages.length ? { packages } : undefined;
  },
};
