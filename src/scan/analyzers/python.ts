/**
 * lang/python: installed Python distributions as importlib.metadata (and pip, which reads through it
 * on Python 3.11 and later) finds them: a directory whose name ends in `.dist-info` or `.egg-info`, or
 * an `EGG-INFO` directory inside a directory ending in `.egg` (easy_install, `setup.py install`), each
 * compared without regard to ASCII case (importlib.metadata's `Lookup` lower-cases every name it
 * lists), holding `METADATA` or `PKG-INFO`; or a file whose name ends in `.egg-info`. Python reads the
 * first of `METADATA`, `PKG-INFO` that exists and is not empty; both are read here (a superset: a
 * `PKG-INFO` that Python passes over for a `METADATA` is reported too). The text is core metadata
 * (https://packaging.python.org/specifications/core-metadata/), read as Python's email parser reads it:
 * the first `Name` and `Version` headers; the purl name is PEP 503 normalized. Read wherever it is:
 * PYTHONPATH, `.pth` files and `sys.path` edits make any directory one Python imports from.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl, normalizePythonName } from '../purl.js';

/**
 * A line of the header block as CPython's email.feedparser matches it (`headerRE`): the envelope
 * `From `, a field name of printable ASCII other than `:` (possibly empty) and its colon, or a
 * continuation (a space or tab first). The first line that does not match ends the headers.
 */
const HEADER_LINE = /^(?:From |[\x21-\x39\x3b-\x7e]*:|[\t ])/;

/**
 * Reads the header block of a core-metadata file as CPython's email parser (compat32 policy, which
 * `email.message_from_string` and so importlib.metadata use) reads it, keeping the first value of
 * each field name (lower-cased keys; `Message.get` returns the first):
 * - lines end at `\r\n`, `\n` or a lone `\r` (importlib.metadata's universal-newline read, the
 *   feedparser's split);
 * - the headers end at the first line that is not a header line ({@link HEADER_LINE}): a blank line,
 *   a line without a colon, a field name holding a space or a non-ASCII character;
 * - a continuation line belongs to the field before it, and to none when no field is open (the first
 *   line, after a `From ` line or a line starting with `:`): it is never read as a field of its own;
 * - a `From ` line is the envelope (first line) or skipped, a line starting with `:` is skipped; both
 *   close the field before them.
 * Values are trimmed, each continuation line trimmed and joined with `\n` (Python keeps the white
 * space; trimming only makes a name match more advisories).
 */
export function parseCoreMetadata(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let field: string | undefined;
  let value: string[] = [];
  const close = (): void => {
    if (field !== undefined && !Object.hasOwn(out, field)) out[field] = value.map((v) => v.trim()).join('\n');
    field = undefined;
    value = [];
  };
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (!HEADER_LINE.test(line)) break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (field !== undefined) value.push(line);
      continue;
    }
    close();
    if (line.startsWith('From ')) continue;
    const c = line.indexOf(':');
    if (c === 0) continue;
    field = line.slice(0, c).toLowerCase();
    value = [line.slice(c + 1)];
  }
  close();
  return out;
}

/** Parses one METADATA / PKG-INFO file into a package. */
export function parsePythonMetadata(text: string, path: string): FoundPackage | undefined {
  const h = parseCoreMetadata(text);
  if (!h.name || !h.version) return undefined;
  return { ecosystem: 'PyPI', name: h.name, version: h.version, path, purl: formatPurl({ type: 'pypi', name: normalizePythonName(h.name), version: h.version }) };
}

/**
 * A name importlib.metadata lists as a distribution's metadata path (its `Lookup`, names lower-cased):
 * ending in `.dist-info` or `.egg-info`, or `egg-info` inside a directory ending in `.egg`. Python
 * reads `METADATA` or `PKG-INFO` beneath a directory of that name, or the file of that name itself.
 */
const INFO_PATH = /(?:\.(?:dist|egg)-info|\.egg\/egg-info)$/i;

/** True for a file importlib.metadata may read a distribution from (see {@link INFO_PATH}). */
export function isPythonMetadataPath(p: string): boolean {
  if (INFO_PATH.test(p)) return true;
  const slash = p.lastIndexOf('/');
  const base = p.slice(slash + 1);
  return (base === 'METADATA' || base === 'PKG-INFO') && INFO_PATH.test(p.slice(0, slash));
}

/** Every ASCII-case spelling of `s` (`egg-info`: 128), for an exact base-name dispatch. */
function caseVariants(s: string): string[] {
  let out = [''];
  for (const ch of s) {
    const both = ch.toLowerCase() === ch.toUpperCase() ? [ch] : [ch.toLowerCase(), ch.toUpperCase()];
    out = out.flatMap((p) => both.map((c) => p + c));
  }
  return out;
}

/** The analyzer. */
export const pythonAnalyzer: Analyzer = {
  name: 'lang/python',
  version: 3,
  maxSize: 4 * 1024 * 1024,
  // No directory is left out (a `/tests/` one was): which directories Python imports from is the
  // image's choice (PYTHONPATH, `.pth` files), so a distribution under `/srv/tests/site` is loaded.
  wants: (e) => isPythonMetadataPath(e.path),
  names: { baseNames: ['METADATA', 'PKG-INFO', ...caseVariants('egg-info')], extensions: ['.egg-info', '.dist-info'] },
  analyze(input) {
    const p = parsePythonMetadata(input.content.toString('utf8'), input.path);
    return p ? { packages: [p] } : undefined;
  },
};
