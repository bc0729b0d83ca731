/**
 * lang/python: installed Python distributions from `*.dist-info/METADATA` (wheels, pip) and
 * `*.egg-info/PKG-INFO` or an `*.egg-info` file (setuptools, Debian's python3-* packages), in the
 * core-metadata format (RFC 822 headers, https://packaging.python.org/specifications/core-metadata/):
 * the first `Name` and `Version` headers; the purl name is PEP 503 normalized. Lines end as Python's
 * email parser (importlib.metadata, pip) ends them: at `\r\n`, `\n` or a lone `\r`. Read wherever it
 * is: PYTHONPATH, `.pth` files and `sys.path` edits make any directory one Python imports from.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl, normalizePythonName } from '../purl.js';

/**
 * Reads the header block of a core-metadata file (stops at the first blank line). Lines are split
 * on `\r\n`, `\n` and a lone `\r`, as Python's email feedparser (NLCRE_crack) splits them and as
 * importlib.metadata's universal-newline text read already has: a file whose lines end in `\r` only
 * is the same distribution to Python.
 */
export function parseCoreMetadata(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') break;
    if ((line[0] === ' ' || line[0] === '\t') && last) { out[last] += `\n${line.trim()}`; continue; }
    const c = line.indexOf(':');
    if (c <= 0) continue;
    last = line.slice(0, c).trim().toLowerCase();
    if (!(last in out)) out[last] = line.slice(c + 1).trim();
    else last = undefined;
  }
  return out;
}

/** Parses one METADATA / PKG-INFO file into a package. */
export function parsePythonMetadata(text: string, path: string): FoundPackage | undefined {
  const h = parseCoreMetadata(text);
  if (!h.name || !h.version) return undefined;
  return { ecosystem: 'PyPI', name: h.name, version: h.version, path, purl: formatPurl({ type: 'pypi', name: normalizePythonName(h.name), version: h.version }) };
}

const WANT = /(?:\.dist-info\/METADATA|\.egg-info\/PKG-INFO|\.egg-info)$/;

/** The analyzer. */
export const pythonAnalyzer: Analyzer = {
  name: 'lang/python',
  version: 2,
  maxSize: 4 * 1024 * 1024,
  // No directory is left out (a `/tests/` one was): which directories Python imports from is the
  // image's choice (PYTHONPATH, `.pth` files), so a distribution under `/srv/tests/site` is loaded.
  wants: (e) => WANT.test(e.path),
  names: { baseNames: ['METADATA', 'PKG-INFO'], extensions: ['.egg-info'] },
  analyze(input) {
    const p = parsePythonMetadata(input.content.toString('utf8'), input.path);
    return p ? { packages: [p] } : undefined;
  },
};
