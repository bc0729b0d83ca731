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
 * PYTHONPATH, `.pth` files and `sys.path` edits make any directory one Python imports from. pip reads
 * an `.egg` directory through pkg_resources, which takes the name and version from the directory's
 * name as well ({@link eggNamePackages}); zipped eggs are {@link pythonEggAnalyzer}'s.
 */
import fs from 'node:fs';
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer, AnalyzerOutput, FoundPackage } from './types.js';
import { baseName } from './types.js';
import { formatPurl, normalizePythonName } from '../purl.js';
import { eachZipEntry, entryNames, openZip, readEntryText, type ZipEntry } from './zip.js';

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
  // 4: a `.egg` directory's name and version as pip reads them (pkg_resources).
  version: 4,
  maxSize: 4 * 1024 * 1024,
  // No directory is left out (a `/tests/` one was): which directories Python imports from is the
  // image's choice (PYTHONPATH, `.pth` files), so a distribution under `/srv/tests/site` is loaded.
  wants: (e) => isPythonMetadataPath(e.path),
  names: { baseNames: ['METADATA', 'PKG-INFO', ...caseVariants('egg-info')], extensions: ['.egg-info', '.dist-info'] },
  analyze(input) {
    const text = input.content.toString('utf8');
    const p = parsePythonMetadata(text, input.path);
    const egg = eggDirOf(input.path);
    if (!egg) return p ? { packages: [p] } : undefined;
    // pip reads a site directory's `.egg` directories through pkg_resources, which takes the version
    // (and may take the name) from the directory's name (`urllib3-1.26.0-py3.11.egg`), whatever
    // PKG-INFO says.
    const h = parseCoreMetadata(text);
    const meta = { name: h.name, version: h.version };
    return { packages: addNew(p ? [p] : [], eggNamePackages(egg, eggStem(egg), meta)), byName: { meta } };
  },
  foundUnder(out, from, to) {
    const meta = (out.byName as { meta?: EggMeta } | undefined)?.meta;
    const egg = eggDirOf(to);
    if (!meta || !egg) return undefined;
    const eggFrom = eggDirOf(from);
    const extra = addNew([], eggNamePackages(egg, eggStem(egg), meta), eggFrom ? eggNamePackages(eggFrom, eggStem(eggFrom), meta) : []);
    return extra.length ? { packages: extra } : undefined;
  },
};

/** The `.egg` directory of a `…/X.egg/EGG-INFO/PKG-INFO` path (ASCII case ignored), else undefined. */
function eggDirOf(p: string): string | undefined {
  const m = /^(.*\.egg)\/egg-info\/pkg-info$/i.exec(p);
  return m ? m[1] : undefined;
}

/** Most entries looked at in one zipped egg (zip-bomb guard, as for Java archives). */
const EGG_MAX_ENTRIES = 200_000;

/**
 * pkg_resources' `EGG_NAME` (pip's egg finder): `NAME-VERSION-pyX.Y-PLATFORM.egg`, the name and
 * version taken from the file name, with `_` standing for `-` (`to_filename`).
 */
const EGG_NAME = /^([^-]+)(?:-([^-]+)(?:-py[^-]+(?:-.+)?)?)?$/i;

/** The zip end-of-central-directory signature; Python's zipfile looks for it in the last 65,557 bytes. */
const EOCD = Buffer.from('PK\x05\x06', 'latin1');

/** True when Python's zipfile could take `file` for a zip: an end record in its last 64 KiB + 22 bytes. */
function hasEndRecord(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const n = Math.min(size, 65_535 + 22);
    const b = Buffer.alloc(n);
    fs.readSync(fd, b, 0, n, size - n);
    return b.indexOf(EOCD) >= 0;
  } finally {
    fs.closeSync(fd);
  }
}

/** True when `file` holds `-info/` in any ASCII case (`.dist-info/`, `.egg-info/`, `EGG-INFO/`), a name split across 1 MiB chunks too. */
function mentionsInfoDir(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1024 * 1024);
    let tail = '';
    for (let pos = 0; ;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n <= 0) return false;
      const view = tail + chunk.toString('latin1', 0, n).toLowerCase();
      if (view.includes('-info/')) return true;
      tail = view.slice(-5);
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads a zipped egg (easy_install's `foo-1.0-py3.11.egg` file) as Python finds distributions in it:
 * - importlib.metadata (a zip on `sys.path`, from easy-install.pth or another `.pth`): its
 *   `FastPath` lists a zip's top-level names (`zipfile.Path`) and its `Lookup` takes, ASCII case
 *   ignored, those ending in `.dist-info` or `.egg-info`, and `egg-info` when the zip's name ends in
 *   `.egg`, reading `METADATA` or `PKG-INFO` beneath;
 * - pip (`_find_eggs_in_dir` → pkg_resources `find_eggs_in_zip`, a site directory's `*.egg` files):
 *   the same metadata, `.egg` directories nested in the zip, and the name and version from the
 *   file name ({@link EGG_NAME}) when `EGG-INFO/PKG-INFO` is there, whatever PKG-INFO says.
 * Every entry whose path {@link isPythonMetadataPath} accepts (at any depth: a superset) is read,
 * duplicates included (zipfile keeps the last of a repeated name). Package paths are `EGG!/ENTRY`.
 * @param file the zip on disk; `display` its path in the image
 * @throws never for a bad zip: a zip yauzl refuses that Python's zipfile may still open (an end
 *   record is there) is an incomplete `parse-error` diagnostic; a file without one is no zip to
 *   Python either and gives nothing
 */
export async function readZippedEgg(file: string, display: string, maxMeta: number): Promise<AnalyzerOutput | undefined> {
  const packages: FoundPackage[] = [];
  const diagnostics: Diagnostic[] = [];
  let zip: Awaited<ReturnType<typeof openZip>>;
  try {
    zip = await openZip(file);
  } catch (err) {
    if (!hasEndRecord(file)) return undefined;
    // any zip may be refused (a data file in a zip format yauzl does not read): another than an egg
    // counts only when it names a metadata directory
    if (!/\.egg$/i.test(display) && !mentionsInfoDir(file)) return undefined;
    return { diagnostics: [{ code: 'parse-error', path: display, message: `lang/python-egg: a zipped egg that cannot be read: ${err instanceof Error ? err.message : String(err)}`, incomplete: true }] };
  }
  const named: FoundPackage[] = [];
  /** The metadata of the egg's own `EGG-INFO`, for reading it under another file name. */
  const own: EggMeta[] = [];
  // pip (pkg_resources) reads `.egg` files of a site directory only: another zip is on `sys.path`
  // through PYTHONPATH or a `.pth`, where importlib.metadata alone lists it, by its metadata.
  const egg = /\.egg$/i.test(display);
  await eachZipEntry(zip, { analyzer: 'lang/python-egg', display, maxEntries: EGG_MAX_ENTRIES, diagnostics }, async (e: ZipEntry) => {
    // Each name a runtime reads the entry by (Python's zipfile cuts a name at its first NUL): matched by each.
    let text: string | undefined;
    for (const name of entryNames(e)) {
      if (name.endsWith('/')) continue;
      if (egg) named.push(...namedInZip(display, name));
      if (!isPythonMetadataPath(`${display}/${name}`)) continue;
      if (e.uncompressedSize > maxMeta) {
        diagnostics.push({ code: 'file-too-large', path: `${display}!/${name}`, message: `lang/python-egg: ${e.uncompressedSize} bytes is over the ${maxMeta}-byte limit; not analyzed`, incomplete: true });
        continue;
      }
      text ??= await readEntryText(zip, e, maxMeta);
      const p = parsePythonMetadata(text, `${display}!/${name}`);
      if (p) packages.push(p);
      // pkg_resources (pip) mixes the directory's name and version with the metadata's.
      const dir = egg ? namingDir(display, name) : undefined;
      if (dir) {
        const h = parseCoreMetadata(text);
        const meta = { name: h.name, version: h.version };
        named.push(...eggNamePackages(dir.at, dir.stem, meta));
        if (dir.at === display) own.push(meta);
      }
    }
  });
  addNew(packages, named);
  if (!packages.length && !diagnostics.length && !own.length) return undefined;
  // The file name took part (pip's view): under another name (a hard link, a symlink) it reads otherwise.
  return { packages, diagnostics: diagnostics.length ? diagnostics : undefined, ...(own.length ? { byName: { own } } : {}) };
}

/** A metadata file's `Name` and `Version`, as pkg_resources mixes them with a directory's name. */
interface EggMeta { name?: string; version?: string }

/** `to` with each package of `add` that neither it nor `except` has (same normalized name and version), appended. */
function addNew(to: FoundPackage[], add: FoundPackage[], except: FoundPackage[] = []): FoundPackage[] {
  const key = (p: FoundPackage): string => `${normalizePythonName(p.name)} ${p.version}`;
  const seen = new Set([...to, ...except].map(key));
  for (const p of add) if (!seen.has(key(p))) { seen.add(key(p)); to.push(p); }
  return to;
}

/** The stem pkg_resources parses of an `.egg` path's last segment (`urllib3-1.26.0-py3.11`). */
function eggStem(p: string): string {
  return baseName(p).replace(/\.egg$/i, '');
}

/**
 * pip's (pkg_resources' `find_eggs_in_zip`) packages named by the directories of zip entry `entry`
 * (in the egg at `display`): a directory ending in `.dist-info` or `.egg-info` (ASCII case ignored)
 * is a distribution named and versioned by its own name (`urllib3-1.26.0.dist-info`, whatever its
 * METADATA says), and a directory ending in `.egg` holding `EGG-INFO/PKG-INFO` likewise. pip looks at
 * the zip's top level and recurses only into `.egg` directories, so the walk goes down the entry's
 * leading `.egg` directories and stops at the first other one: one pass over the name (an entry name
 * may be 65,535 bytes of `a/a/…`; a prefix joined per segment cost its square).
 */
function namedInZip(display: string, entry: string): FoundPackage[] {
  const out: FoundPackage[] = [];
  for (let start = 0; ;) {
    const slash = entry.indexOf('/', start);
    if (slash < 0) break;
    const seg = entry.slice(start, slash);
    if (/\.(?:dist|egg)-info$/i.test(seg)) {
      out.push(...eggNamePackages(`${display}!/${entry.slice(0, slash)}`, seg.replace(/\.(?:dist|egg)-info$/i, '')));
      break;
    }
    if (!/\.egg$/i.test(seg)) break;
    if (entry.length - slash - 1 === 'EGG-INFO/PKG-INFO'.length && /^egg-info\/pkg-info$/i.test(entry.slice(slash + 1))) out.push(...eggNamePackages(`${display}!/${entry.slice(0, slash)}`, eggStem(seg)));
    start = slash + 1;
  }
  return out;
}

/**
 * The directory pkg_resources names the distribution of metadata file `entry` (in the egg at
 * `display`) by: its parent when that ends in `.dist-info` or `.egg-info`, the `.egg` directory (or
 * the egg itself) holding its parent when that is `EGG-INFO`; with the name's stem.
 */
function namingDir(display: string, entry: string): { at: string; stem: string } | undefined {
  const segs = entry.split('/');
  if (segs.length < 2) return undefined;
  const parent = segs[segs.length - 2]!;
  if (/\.(?:dist|egg)-info$/i.test(parent)) return { at: `${display}!/${segs.slice(0, -1).join('/')}`, stem: parent.replace(/\.(?:dist|egg)-info$/i, '') };
  if (!/^egg-info$/i.test(parent)) return undefined;
  if (segs.length === 2) return { at: display, stem: eggStem(display) };
  const egg = segs[segs.length - 3]!;
  return /\.egg$/i.test(egg) ? { at: `${display}!/${segs.slice(0, -2).join('/')}`, stem: eggStem(egg) } : undefined;
}

/**
 * pip's (pkg_resources') packages for a distribution named by a path: a zipped egg, a `.egg`
 * directory, or (in a zip) a `.dist-info` / `.egg-info` directory at `p`, whose name's `stem` is
 * parsed by {@link EGG_NAME} (`_` standing for `-`). pip 23 with python3 11 was seen to report the
 * name of either the path or the metadata, and the version of either (`decoy` 1.26.0 for
 * `urllib3-1.26.0.dist-info` in a zipped egg whose METADATA says `decoy` 9.9): every pairing that
 * has both a name and a version is returned, the metadata's own pairing left to
 * {@link parsePythonMetadata}.
 */
export function eggNamePackages(p: string, stem: string, meta: EggMeta = {}): FoundPackage[] {
  const m = EGG_NAME.exec(stem);
  const fromName = m ? { name: m[1]!.replace(/_/g, '-'), version: m[2]?.replace(/_/g, '-') } : {};
  const out: FoundPackage[] = [];
  for (const name of new Set([fromName.name, meta.name])) {
    for (const version of new Set([fromName.version, meta.version])) {
      if (!name || !version || (name === meta.name && version === meta.version)) continue;
      out.push({ ecosystem: 'PyPI', name, version, path: p, purl: formatPurl({ type: 'pypi', name: normalizePythonName(name), version }) });
    }
  }
  return out;
}

/**
 * Names of the zips Python puts on `sys.path` as they are usually spelled (ASCII case ignored): zipped
 * eggs, and the `.zip`, wheel and zipapp files that PYTHONPATH, a `.pth` line or `python app.pyz` name,
 * whose top-level `*.dist-info` importlib.metadata lists (`PYTHONPATH=/app/deps.zip` ran urllib3 1.26.0
 * from the zip while the scan read no `.zip`).
 */
const SYS_PATH_ZIP = /\.(?:egg|zip|whl|pyz)$/i;

/**
 * lang/python-egg: zips on `sys.path` ({@link SYS_PATH_ZIP}: zipped eggs, `.zip`, `.whl`, `.pyz`), read by
 * {@link readZippedEgg} with the zip reader of the Java archives, spilled to the scan's capped temp space
 * (a zip's directory is at its end). Not read: a zip under another name that a `.pth` line or PYTHONPATH
 * names (`deps.bin`), which importlib.metadata also lists.
 */
export const pythonEggAnalyzer: Analyzer = {
  name: 'lang/python-egg',
  // 2: `.zip`, `.whl` and `.pyz` too.
  version: 2,
  maxSize: 2 * 1024 ** 3,
  spill: true,
  wants: (e) => SYS_PATH_ZIP.test(e.path),
  names: { extensions: ['.egg', '.zip', '.whl', '.pyz'] },
  async analyze(input) {
    if (!input.file) return undefined;
    return readZippedEgg(input.file, input.path, pythonAnalyzer.maxSize);
  },
  foundUnder(out, from, to) {
    const own = (out.byName as { own?: EggMeta[] } | undefined)?.own;
    if (!own) return undefined;
    const extra = addNew([], own.flatMap((m) => eggNamePackages(to, eggStem(to), m)), own.flatMap((m) => eggNamePackages(from, eggStem(from), m)));
    return extra.length ? { packages: extra } : undefined;
  },
};
