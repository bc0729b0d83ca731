/**
 * lang/composer: installed PHP packages from `vendor/composer/installed.json`, which Composer
 * writes in two shapes: 1.x a JSON array of packages, 2.x `{"packages": [...], "dev": …,
 * "dev-package-names": [...]}`. Each package has `name` (`vendor/project`) and `version`
 * (as the author tagged it, e.g. `v6.3.0`). purl `pkg:composer/VENDOR/PROJECT@VERSION`, OSV
 * ecosystem Packagist.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

interface ComposerPkg { name?: unknown; version?: unknown; version_normalized?: unknown }

/**
 * A scalar version as Composer's ArrayLoader casts it (`(string) $config['version']`): PHP writes an
 * integer in decimal, `true` as `1`, and a float in its shortest round-trip form, which is
 * JavaScript's between 1e-4 and 1e15 (PHP switches to `1.0E+15` notation where JavaScript does not).
 * Undefined for what Composer refuses (no version, an array or object, `false`'s empty version) or
 * a number whose PHP spelling is not known here.
 */
function composerVersion(v: unknown): string | undefined {
  if (typeof v === 'string') return v || undefined;
  if (v === true) return '1';
  if (typeof v === 'number' && Number.isFinite(v) && (Number.isSafeInteger(v) || (Math.abs(v) >= 1e-4 && Math.abs(v) < 1e15))) return String(v);
  return undefined;
}

/**
 * True when installed.json's `version_normalized` names another release than `version`: Composer
 * compares the normalized one (ArrayLoader takes `version_normalized` as the package's version;
 * `composer audit` matches advisories against it), pushgate the pretty one, so
 * `"version": "99.0.0", "version_normalized": "6.3.0.0"` passed guzzle 6.3.0 as 99.0.0. Only the
 * numeric release is compared: the pretty version's one to four leading numbers (after `v`) must
 * begin the normalized `A.B.C.D`, and its remaining numbers be all 0 (padding) or all 9999999
 * (`1.0.x-dev`); a normalized version of another form (`dev-main`, a date) is not compared.
 */
export function composerVersionsDisagree(pretty: string, normalized: unknown): boolean {
  // Composer renormalizes the default-branch alias from the pretty version (ArrayLoader)
  if (typeof normalized !== 'string' || normalized === '9999999-dev') return false;
  const n = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?![\d.])/.exec(normalized);
  if (!n) return false;
  // numbers followed by `-digit` are a date (2010-01-02), which Composer never normalizes to A.B.C.D
  const p = /^[vV]?(\d+(?:\.\d+){0,3})(?!\d)(?!\.\d)(?!-\d)/.exec(pretty.trim());
  if (!p) return true;
  const parts = p[1]!.split('.');
  const norm = n.slice(1, 5);
  if (parts.some((x, i) => x !== norm[i])) return true;
  const rest = norm.slice(parts.length);
  return !(rest.every((x) => x === '0') || rest.every((x) => x === '9999999'));
}

/**
 * Parses installed.json as Composer's FilesystemRepository reads it: the list is the document's
 * `packages` member when it is set (not null), else the document itself, and either way the
 * values of that JSON array or object (PHP decodes both to an array and iterates its values):
 * `{"packages": {"a": {...}}}` and `{"a": {...}}` hold packages as `[{...}]` does. A scalar
 * version is cast to a string ({@link composerVersion}).
 * @throws SyntaxError on invalid JSON (a `parse-error` diagnostic).
 */
export function parseComposerInstalled(text: string, path: string, disagree: string[] = []): FoundPackage[] {
  const j = JSON.parse(text) as unknown;
  const isList = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object';
  const list = isList(j) && !Array.isArray(j) && j.packages !== undefined && j.packages !== null ? j.packages : j;
  const out: FoundPackage[] = [];
  for (const p of isList(list) ? Object.values(list) as ComposerPkg[] : []) {
    const version = composerVersion(p?.version);
    if (typeof p?.name !== 'string' || !p.name || version === undefined) continue;
    if (composerVersionsDisagree(version, p.version_normalized)) disagree.push(`${p.name} ${version} (normalized ${String(p.version_normalized)})`);
    const slash = p.name.indexOf('/');
    out.push({
      ecosystem: 'Packagist', name: p.name, version, path,
      purl: formatPurl({ type: 'composer', namespace: slash > 0 ? p.name.slice(0, slash) : undefined, name: slash > 0 ? p.name.slice(slash + 1) : p.name, version }),
    });
  }
  return out;
}

/** The analyzer. */
export const composerAnalyzer: Analyzer = {
  name: 'lang/composer',
  version: 3,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => e.path.endsWith('/vendor/composer/installed.json'),
  names: { baseNames: ['installed.json'] },
  analyze(input) {
    const disagree: string[] = [];
    const packages = parseComposerInstalled(input.content.toString('utf8'), input.path, disagree);
    const diagnostics = disagree.length ? [{ code: 'composer-version-mismatch', path: input.path, incomplete: true, message: `${disagree.length} package(s) whose version_normalized names another release than version (${disagree.slice(0, 3).join(', ')}${disagree.length > 3 ? ', …' : ''}): Composer compares the normalized one, pushgate the other; not judged` }] : undefined;
    return packages.length || diagnostics ? { packages, diagnostics } : undefined;
  },
};
