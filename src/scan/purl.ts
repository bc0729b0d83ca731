/**
 * Package URLs following the purl specification
 * (https://github.com/package-url/purl-spec/blob/master/PURL-SPECIFICATION.rst):
 * `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`. Segments are percent-encoded with
 * `encodeURIComponent` (so `@scope` → `%40scope`, `+` → `%2B`, `:` → `%3A`), qualifiers sorted by key,
 * empty qualifier values dropped, as packageurl-js and trivy write them.
 */

/** The parts of a package URL. */
export interface PurlParts {
  type: string;
  /** `/`-separated namespace, each segment encoded separately (`debian`, `@babel`, `github.com/x`). */
  namespace?: string;
  name: string;
  version?: string;
  qualifiers?: Record<string, string | undefined>;
}

/** Formats a purl string from its parts. */
export function formatPurl(p: PurlParts): string {
  let s = `pkg:${p.type}/`;
  if (p.namespace) s += p.namespace.split('/').filter(Boolean).map(encodeURIComponent).join('/') + '/';
  s += encodeURIComponent(p.name);
  if (p.version) s += `@${encodeURIComponent(p.version)}`;
  const q = Object.entries(p.qualifiers ?? {})
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (q.length) s += '?' + q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return s;
}

/** npm purl: `pkg:npm/%40scope/name@1.0.0`. */
export function npmPurl(name: string, version: string): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  return slash > 0
    ? formatPurl({ type: 'npm', namespace: name.slice(0, slash), name: name.slice(slash + 1), version })
    : formatPurl({ type: 'npm', name, version });
}

/** PEP 503 normalized Python project name (`Foo_Bar.baz` → `foo-bar-baz`). */
export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
