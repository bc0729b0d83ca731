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
 * integer in decimal, `true` as `1`, and a float with `precision` (14) significant digits (`%.14G`:
 * 6.30000000000001 is `6.3`, 1e14 is `1.0E+14`, 1e400 is `INF`). JSON.parse keeps no literal, so a
 * number is spelled only where every literal of its value casts to JavaScript's spelling: an integer
 * below 1e14, a fraction of at most 14 significant digits between 1e-4 and 1e14.
 * @returns the version; `null` for a scalar Composer loads (with `version_normalized`) under a version
 * not spelled here (any other number, `false` or `""` cast to `""`); undefined for what Composer
 * refuses (no version, an array or object).
 */
function composerVersion(v: unknown): string | null | undefined {
  if (typeof v === 'string') return v || null;
  if (typeof v === 'boolean') return v ? '1' : null;
  if (typeof v !== 'number') return undefined;
  const abs = Math.abs(v);
  if (Number.isInteger(v) && abs < 1e14 && !Object.is(v, -0)) return String(v);
  if (!Number.isInteger(v) && abs >= 1e-4 && abs < 1e14 && String(abs).replace('.', '').replace(/^0+/, '').length <= 14) return String(v);
  return null;
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
  const branch = rest.length > 0 && rest.every((x) => x === '9999999');
  if (!(rest.every((x) => x === '0') || branch)) return true;
  // The stability too: `"version": "6.3.0", "version_normalized": "6.3.0.0-RC1"` is 6.3.0-RC1 to Composer
  // (below a fix in 6.3.0) and 6.3.0 to pushgate. What follows the release in the normalized version must
  // be what Composer's VersionParser::normalize makes of what follows it in the pretty one (a stable
  // normalized version under `6.3.0-p1`, a patch release above 6.3.0, is named too).
  const suffix = normalized.slice(n[0].length);
  if (branch && suffix === '-dev') return false;
  const tail = pretty.trim().slice(p[0].length).replace(/^([^,\s+]*)\+\S*$/, '$1');
  return composerSuffix(tail) !== suffix;
}

/** VersionParser's modifier pattern, after the numbers of a classical version. */
const MODIFIER = /^[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*))?([.-]?dev)?$/i;
const STABILITY: Record<string, string> = { a: 'alpha', b: 'beta', p: 'patch', pl: 'patch', rc: 'RC' };

/**
 * What Composer's VersionParser::normalize appends to a classical version's release for `tail` (the
 * text after its numbers, build metadata removed): `-RC2`, `-alpha1`, `-patch1`, `-beta1-dev`, `-dev`, or
 * '' (a stable release); undefined when `tail` is no modifier Composer reads.
 */
export function composerSuffix(tail: string): string | undefined {
  const m = MODIFIER.exec(tail);
  if (!m) return undefined;
  let out = '';
  if (m[1]) {
    // VersionParser returns at once for exactly `stable` (any other case is expanded like a word)
    if (m[1] === 'stable') return '';
    const w = m[1].toLowerCase();
    out = `-${STABILITY[w] ?? w}${(m[2] ?? '').replace(/^[.-]+/, '')}`;
  }
  if (m[3]) out += '-dev';
  return out;
}

/**
 * Parses installed.json as Composer's FilesystemRepository reads it: the list is the document's
 * `packages` member when it is set (not null), else the document itself, and either way the
 * values of that JSON array or object (PHP decodes both to an array and iterates its values):
 * `{"packages": {"a": {...}}}` and `{"a": {...}}` hold packages as `[{...}]` does. A scalar
 * version is cast to a string ({@link composerVersion}); a package whose version is not spelled here is
 * left out and its name and version added to `unread`.
 * @throws SyntaxError on invalid JSON (a `parse-error` diagnostic).
 */
export function parseComposerInstalled(text: string, path: string, disagree: string[] = [], unread: string[] = []): FoundPackage[] {
  const j = JSON.parse(text) as unknown;
  const isList = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object';
  const list = isList(j) && !Array.isArray(j) && j.packages !== undefined && j.packages !== null ? j.packages : j;
  const out: FoundPackage[] = [];
  for (const p of isList(list) ? Object.values(list) as ComposerPkg[] : []) {
    const version = composerVersion(p?.version);
    if (typeof p?.name !== 'string' || !p.name || version === undefined) continue;
    if (version === null) {
      // Composer loads it (by version_normalized) under a version pushgate cannot spell: not judged
      unread.push(`${p.name} ${JSON.stringify(p.version)}`);
      continue;
    }
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
  // 5: a version_normalized of another stability than version is composer-version-mismatch too.
  version: 5,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => e.path.endsWith('/vendor/composer/installed.json'),
  names: { baseNames: ['installed.json'] },
  analyze(input) {
    const disagree: string[] = [];
    const unread: string[] = [];
    const packages = parseComposerInstalled(input.content.toString('utf8'), input.path, disagree, unread);
    const few = (l: string[]) => `${l.slice(0, 3).join(', ')}${l.length > 3 ? ', …' : ''}`;
    const diagnostics = [
      ...(disagree.length ? [{ code: 'composer-version-mismatch', path: input.path, incomplete: true, message: `${disagree.length} package(s) whose version_normalized names another release than version (${few(disagree)}): Composer compares the normalized one, pushgate the other; not judged` }] : []),
      ...(unread.length ? [{ code: 'composer-version-unread', path: input.path, incomplete: true, message: `${unread.length} package(s) whose version is a JSON number or boolean PHP may spell otherwise than pushgate (${few(unread)}): Composer loads them; not judged` }] : []),
    ];
    return packages.length || diagnostics.length ? { packages, diagnostics: diagnostics.length ? diagnostics : undefined } : undefined;
  },
};
