/**
 * "Which stored images hold this package?" by package URL (purl-spec,
 * https://github.com/package-url/purl-spec/blob/master/PURL-SPECIFICATION.rst, parsed with packageurl-js):
 * the purl names the advisory pairs to read from the monitor's index (src/vulndb/keys.ts: language
 * packages under `<ecosystem>:<normalized name>`, OS packages under their distribution and source name),
 * and each indexed package is then compared with the purl itself.
 */
import { createRequire } from 'node:module';
import type * as Purl from 'packageurl-js';
import { PushgateError, type Package } from '../core/index.js';
import { formatPurl } from '../scan/purl.js';
import { LANG_TYPES, OS_NAMESPACES } from '../scan/sbom-input.js';
import { packageKey } from '../vulndb/digest.js';
import { normalizeName } from '../vulndb/schema.js';

const load = createRequire(import.meta.url);

/** A parsed package query. */
export interface PurlQuery {
  /** The purl as given. */
  purl: string;
  /** `pkg:type/namespace/name` in canonical encoding, lowercase (version and qualifiers dropped). */
  stem: string;
  /** Package ecosystem as pushgate's analyzers spell it (`npm`, `PyPI`, `Debian`, …). */
  ecosystem: string;
  /** Name as analyzers record it (`@scope/name`, `group:artifact`, the binary package of an OS). */
  name: string;
  /** Source package named by an OS purl's `upstream` qualifier, if any. */
  sourceName?: string;
  /** Version to match exactly (OS: with the `epoch` qualifier as `epoch:`), absent = any. */
  version?: string;
  /** Index pairs that can hold it. */
  pairs: string[];
}

function bad(message: string): PushgateError {
  return new PushgateError('BAD_ARGUMENT', message);
}

/**
 * Parses a package URL into a query.
 * @throws PushgateError BAD_ARGUMENT for a string that is not a purl, or a type pushgate does not
 *   inventory (supported: npm, pypi, maven, golang, cargo, gem, nuget, composer, deb/debian, deb/ubuntu,
 *   apk/alpine, apk/wolfi, apk/chainguard).
 */
export function parsePurlQuery(purl: string): PurlQuery {
  let p: Purl.PackageURL;
  try {
    p = (load('packageurl-js') as typeof Purl).PackageURL.fromString(purl.trim());
  } catch (e) {
    throw bad(`"${purl}" is not a package URL (${e instanceof Error ? e.message : String(e)}); expected pkg:<type>/<namespace>/<name>[@<version>], e.g. pkg:npm/lodash@4.17.15 or pkg:deb/debian/openssl`);
  }
  const q = (p.qualifiers ?? {}) as Record<string, string>;
  const stem = formatPurl({ type: p.type, namespace: p.namespace ?? undefined, name: p.name }).toLowerCase();
  const supported = `${Object.keys(LANG_TYPES).join(', ')}, ${Object.entries(OS_NAMESPACES).flatMap(([t, ns]) => Object.keys(ns).map((n) => `${t}/${n}`)).join(', ')}`;
  if (p.type in OS_NAMESPACES) {
    const ecosystem = OS_NAMESPACES[p.type]![(p.namespace ?? '').toLowerCase()];
    if (!ecosystem) throw bad(`pushgate does not inventory ${p.type} packages of "${p.namespace ?? ''}"; supported purl types: ${supported}`);
    const up = q.upstream ? /^([^@]+)/.exec(q.upstream)?.[1] : undefined;
    const names = [...new Set([up, p.name].filter((n): n is string => !!n))];
    const version = p.version ? `${q.epoch && p.type !== 'apk' ? `${q.epoch}:` : ''}${p.version}` : undefined;
    return { purl, stem, ecosystem, name: p.name, ...(up ? { sourceName: up } : {}), ...(version ? { version } : {}), pairs: names.map((n) => packageKey(ecosystem, normalizeName(ecosystem, n))) };
  }
  const ecosystem = LANG_TYPES[p.type];
  if (!ecosystem) throw bad(`pushgate does not inventory purl type "${p.type}"; supported: ${supported}`);
  const ns = p.namespace ?? '';
  const name = !ns ? p.name : p.type === 'maven' ? `${ns}:${p.name}` : `${ns}/${p.name}`;
  return { purl, stem, ecosystem, name, ...(p.version ? { version: p.version } : {}), pairs: [packageKey(ecosystem, normalizeName(ecosystem, name))] };
}

/**
 * True when an indexed package is the queried one: the same purl up to its version and qualifiers
 * (or, for an OS purl without `upstream`, a binary package built from a source package of that
 * name), and the same version when the query names one.
 */
export function matchesPurlQuery(q: PurlQuery, p: Package): boolean {
  if (q.version !== undefined && p.version !== q.version) return false;
  const stem = p.purl ? p.purl.split(/[@?#]/)[0]!.toLowerCase() : undefined;
  if (stem === q.stem) return true;
  if (!p.purl && p.ecosystem === q.ecosystem && p.name === q.name) return true;
  return !q.sourceName && p.ecosystem === q.ecosystem && p.sourceName === q.name;
}
