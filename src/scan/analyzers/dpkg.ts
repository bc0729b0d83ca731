/**
 * os/dpkg: installed Debian/Ubuntu packages from `/var/lib/dpkg/status` and the distroless
 * `/var/lib/dpkg/status.d/*` files (deb-control(5) stanzas), plus the files each package owns from
 * `/var/lib/dpkg/info/*.list`. A package counts when its files are on disk: the status word of `Status:`
 * is `installed` (dpkg-query `ii`) or any state dpkg reaches after unpacking the files (`unpacked`,
 * `half-configured`, `half-installed`, `triggers-awaited`, `triggers-pending`: `iU`, `iF`, `iH`, `iW`,
 * `it`), never `config-files` or `not-installed`; status.d stanzas have no `Status:` and count as
 * installed (like trivy, osv-scalibr and syft). Field names are matched case-insensitively, as dpkg's
 * parser matches them (`package:` and `PACKAGE:` are `Package:`). A journal file left in
 * `/var/lib/dpkg/updates/` (dpkg replays it over the status file) makes the scan incomplete. `Source: name (version)` gives the source package; without it the source
 * is the binary itself, as dpkg-query's `${source:Package}`/`${source:Version}` say.
 */
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer, AnalyzerOutput, FoundPackage } from './types.js';
import { baseName } from './types.js';
import { formatPurl } from '../purl.js';

/**
 * One deb-control stanza: field name (lower-cased: dpkg matches field names case-insensitively) →
 * value (continuation lines joined with `\n`).
 */
export type Stanza = Record<string, string>;

/**
 * dpkg's white space (lib/dpkg/c-ctype.c `c_isspace`): a line that starts with one continues the field
 * before it, a whitespace-only line too (dpkg warns "blank line in value" and keeps reading the field),
 * so only a truly empty line ends a stanza.
 */
const DPKG_SPACE = /^[ \t\r\v\f]/;
/** dpkg's c_isspace: space, \t, \n, \v, \f, \r. */
const isDpkgSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/**
 * `v` without dpkg's white space and newlines at both ends, as dpkg trims a whole field value
 * (continuation lines included). A loop, not `/[ \t…]+$/`: that pattern retries from every position of
 * a run of white space and took quadratic time (80 KB of blank continuation lines, 6.5 s; a 1 MB one
 * blocked the process's event loop, scan deadline included, for a quarter of an hour).
 */
export function trimDpkg(v: string): string {
  let a = 0;
  let b = v.length;
  while (a < b && isDpkgSpace(v.charCodeAt(a))) a++;
  while (b > a && isDpkgSpace(v.charCodeAt(b - 1))) b--;
  return a === 0 && b === v.length ? v : v.slice(a, b);
}

/**
 * Splits deb-control text into stanzas as dpkg's parser (lib/dpkg/parse.c) splits them: stanzas end at
 * empty lines; a line starting with white space continues the field before it; a field is `name:value`
 * with white space allowed between name and colon and around the value. `problems` lists what dpkg
 * refuses to read (it stops with "parsing file … error"): a field named twice in a stanza in any case,
 * a field name under two bytes or starting with `-`, a line without a colon, a continuation with no
 * field before it, a stanza without `Package`, a file not ending in a newline; NUL bytes (dpkg cuts a value at the first NUL, other readers do not) and ^Z
 * bytes (dpkg ends a line, or a stanza, at one).
 * What pushgate reads there is not what dpkg reads, so the caller refuses to judge it. Past
 * `maxStanzas` stanzas the rest is not read, and `problems` says so.
 */
export function parseStanzas(text: string, problems: string[] = [], maxStanzas = Number.POSITIVE_INFINITY): Stanza[] {
  const out: Stanza[] = [];
  let cur: Stanza = {};
  let last: string | undefined;
  let any = false;
  let lineNo = 0;
  const problem = (why: string) => { if (problems.length < 20) problems.push(`line ${lineNo}: ${why}`); };
  const end = () => {
    for (const k of Object.keys(cur)) cur[k] = trimDpkg(cur[k]!);
    if (any) {
      if (cur.package === undefined) problem('stanza without a Package field');
      out.push(cur);
    }
    cur = {};
    last = undefined;
    any = false;
  };
  if (text.includes('\0')) problems.push('NUL byte in the file (dpkg cuts a value at it)');
  // dpkg's parser (lib/dpkg/parse.c, MSDOS_EOF_CHAR) ends a line at ^Z as at a newline, ends the stanza
  // at a line starting with one and skips it between stanzas: `Package: decoy` `^ZPackage: openssl`
  // `Status: …` is two stanzas to dpkg (openssl installed) and one field `^Zpackage` of decoy's
  // stanza to a line splitter. dpkg never writes one.
  if (text.includes('\x1a')) problems.push('^Z (0x1a) byte in the file (dpkg ends a line or a stanza at it)');
  if (text !== '' && !text.endsWith('\n')) problems.push('no newline at the end of the file (dpkg refuses the last field)');
  // Line by line without an array of every line: a 64 MiB file of two-line stanzas is millions of them.
  const stop = text.endsWith('\n') ? text.length - 1 : text.length;
  for (let at = 0; at <= stop && text !== '';) {
    const nl = text.indexOf('\n', at);
    const l = text.slice(at, nl < 0 || nl > stop ? stop : nl);
    at = nl < 0 || nl >= stop ? stop + 1 : nl + 1;
    lineNo++;
    if (l === '') {
      end();
      if (out.length > maxStanzas) {
        problems.push(`more than ${maxStanzas} stanzas, more than the package records pushgate judges for a layer: the rest not read`);
        return out;
      }
      continue;
    }
    if (DPKG_SPACE.test(l)) {
      if (last) cur[last] += '\n' + l;
      else problem('line starts with white space outside a field (dpkg: empty field name)');
      continue;
    }
    const m = /^([^\s:]+)[ \t\r\v\f]*:(.*)$/s.exec(l);
    if (!m) {
      problem(`"${l.slice(0, 40)}" is not a field (dpkg: field name must be followed by colon)`);
      last = undefined;
      continue;
    }
    const name = m[1]!.toLowerCase();
    // dpkg refuses a user-defined field name under two bytes (every known one is longer) and one
    // starting with a hyphen (parse.c: "too short", "cannot start with hyphen")
    if (Buffer.byteLength(m[1]!) < 2 || m[1]!.startsWith('-')) problem(`field name "${m[1]!.slice(0, 20)}" dpkg refuses (shorter than two bytes or starting with a hyphen)`);
    if (name in cur) problem(`field "${m[1]}" given twice in one stanza (dpkg: duplicate value)`);
    last = name;
    cur[name] = m[2]!;
    any = true;
  }
  end();
  return out;
}

/**
 * Most stanzas read from one file: the walker keeps at most 500,000 package records per layer
 * (MAX_PACKAGE_RECORDS), so a file of more is not judged anyway, and a 64 MiB status.d file of
 * two-line stanzas (2.3 million) held some 1.2 GB of records before the walker dropped them.
 */
const MAX_STANZAS = 500_000;

// Debian policy §5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
const DEB_VERSION = /^(?:\d+:)?[0-9][A-Za-z0-9.+~:-]*$/;

/** True for a syntactically valid Debian version. */
export function isDebVersion(v: string): boolean {
  if (!DEB_VERSION.test(v)) return false;
  // dpkg's parseversion refuses nothing after the epoch's colon (`0:`), an epoch past INT_MAX and an
  // empty revision (`1.0-`)
  const colon = v.indexOf(':');
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  if (colon >= 0 && (!/^\d+$/.test(v.slice(0, colon)) || Number(v.slice(0, colon)) > 2147483647 || !/^[0-9]/.test(rest))) return false;
  return !rest.endsWith('-');
}

/**
 * dpkg's package states (dpkg(1) "Package states") in which the package's files are unpacked on disk:
 * a library left `unpacked` or `half-configured` is loaded by every program that links it.
 */
const ON_DISK: ReadonlySet<string> = new Set(['installed', 'unpacked', 'half-configured', 'half-installed', 'triggers-awaited', 'triggers-pending']);

/** dpkg's Status words (lib/dpkg/parsehelp.c, matched in any case): want, error flag, state. */
const WANT: ReadonlySet<string> = new Set(['unknown', 'install', 'hold', 'deinstall', 'purge']);
const EFLAG: ReadonlySet<string> = new Set(['ok', 'reinstreq']);
const STATES: ReadonlySet<string> = new Set(['not-installed', 'config-files', ...ON_DISK]);
const MULTI_ARCH: ReadonlySet<string> = new Set(['no', 'same', 'foreign', 'allowed']);

/**
 * Parses a `status` (or status.d) file into the packages whose files are on disk. Names are lower-cased
 * as dpkg stores them (`Package: OpenSSL` is dpkg-query's `openssl`; advisories name source packages in
 * lower case, Debian policy §5.6.1). `ambiguous` says why dpkg would not read the file as pushgate did:
 * what {@link parseStanzas} finds, a Status that is not three known words, and two records of one
 * package that dpkg refuses ("multiple non-coinstallable package instances") or that overwrite each
 * other (one name and architecture twice): a pusher could put a harmless record beside the real one.
 */
export function parseDpkgStatus(text: string, path: string, statusD = false): { packages: FoundPackage[]; skipped: string[]; ambiguous: string[] } {
  const packages: FoundPackage[] = [];
  const skipped: string[] = [];
  const ambiguous: string[] = [];
  // package name → the records that are not mere selections (state other than not-installed), and every slot seen
  const present = new Map<string, Array<{ arch: string; same: boolean }>>();
  const slots = new Set<string>();
  const grammar: string[] = [];
  const stanzas = parseStanzas(text, grammar, MAX_STANZAS);
  // dpkg never reads the distroless status.d files: a last line without its newline is no parse of dpkg's to differ from.
  ambiguous.push(...(statusD ? grammar.filter((g) => !g.startsWith('no newline')) : grammar));
  for (const s of stanzas) {
    const name = s.package?.toLowerCase();
    if (!name) continue;
    const arch = s.architecture || undefined;
    const slot = `${name}:${arch ?? ''}`;
    if (slots.has(slot)) ambiguous.push(`${slot}: two records of one package and architecture`);
    slots.add(slot);
    const ma = s['multi-arch']?.toLowerCase();
    if (ma !== undefined && !MULTI_ARCH.has(ma)) ambiguous.push(`${name}: Multi-Arch "${ma.slice(0, 20)}" is not a dpkg value`);
    if (ma === 'same' && (!arch || arch === 'all')) ambiguous.push(`${name}: Multi-Arch: same without an architecture (dpkg refuses it)`);
    const status = s.status;
    let state: string | undefined;
    if (status !== undefined) {
      // dpkg reads the status words in any case (namevalue_find_by_name: strncasecmp): `install ok Installed`
      // is installed to dpkg and dpkg-query
      const words = status.toLowerCase().split(/\s+/);
      if (words.length !== 3 || !WANT.has(words[0]!) || !EFLAG.has(words[1]!) || !STATES.has(words[2]!)) {
        ambiguous.push(`${name}: Status "${status.slice(0, 60)}" is not three dpkg status words`);
      }
      state = words[2];
      if (state !== 'not-installed') {
        const list = present.get(name) ?? [];
        list.push({ arch: arch ?? '', same: ma === 'same' });
        present.set(name, list);
      }
      if (!ON_DISK.has(state ?? '')) {
        // dpkg parses every record's version and refuses the file at a bad one, removed packages' too
        if (s.version !== undefined && !isDebVersion(s.version)) ambiguous.push(`${name}: invalid version "${s.version.slice(0, 40)}"`);
        continue;
      }
    } else if (!statusD) {
      // a record without Status is a selection; dpkg still parses its version and refuses the file at a bad one
      if (s.version !== undefined && !isDebVersion(s.version)) ambiguous.push(`${name}: invalid version "${s.version.slice(0, 40)}"`);
      continue;
    }
    const version = s.version;
    if (!version || !isDebVersion(version)) {
      skipped.push(`${name}: ${version ? `invalid version "${version}"` : 'no Version field'}`);
      continue;
    }
    let sourceName = name;
    let sourceVersion = version;
    if (s.source) {
      const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(s.source);
      if (m) {
        sourceName = m[1]!.toLowerCase();
        if (m[2]) sourceVersion = m[2].trim();
      }
    }
    packages.push({
      ecosystem: 'Debian',
      name,
      version,
      sourceName,
      sourceVersion,
      arch,
      path,
      purl: formatPurl({ type: 'deb', namespace: 'debian', name, version, qualifiers: { arch } }),
    });
  }
  for (const [name, list] of present) {
    // dpkg keeps several installed records of a name only when every one is `Multi-Arch: same`
    if (list.length > 1 && !list.every((r) => r.same)) ambiguous.push(`${name}: ${list.length} installed records, not all Multi-Arch: same`);
  }
  return { packages, skipped, ambiguous };
}

const STATUS = '/var/lib/dpkg/status';
const STATUS_D = '/var/lib/dpkg/status.d/';
const INFO = '/var/lib/dpkg/info/';
/**
 * dpkg's journal (lib/dpkg/dbmodify.c `ulist_select`): files of the updates directory whose names are
 * all digits (at most IMPORTANTMAXLEN, 10). Every dpkg and dpkg-query run applies their stanzas over
 * the status file, in name order, before it reads anything; a clean dpkg run leaves none behind.
 */
const JOURNAL = /^\/var\/lib\/dpkg\/updates\/[0-9]{1,10}$/;

/** The incomplete diagnostic for a database dpkg would read otherwise than pushgate (or not at all). */
function ambiguousDiagnostic(path: string, why: string[]): Diagnostic {
  return { code: 'dpkg-ambiguous', path, incomplete: true, message: `dpkg would not read this database as pushgate did: ${why.slice(0, 3).join('; ')}${why.length > 3 ? `; … (${why.length})` : ''}; not judged` };
}

/** The analyzer. */
export const dpkgAnalyzer: Analyzer = {
  name: 'os/dpkg',
  version: 5,
  maxSize: 64 * 1024 * 1024,
  sizeClass: 'packagedb',
  wants: (e) =>
    e.path === STATUS ||
    JOURNAL.test(e.path) ||
    (e.path.startsWith(STATUS_D) && !e.path.endsWith('.md5sums')) ||
    (e.path.startsWith(INFO) && e.path.endsWith('.list')),
  names: { under: ['/var/lib/dpkg/'] },
  // Four readings: the status database (stanzas count when their Status says the files are on disk),
  // a journal file (the same stanzas, and the scan incomplete), a distroless status.d file (stanzas
  // without Status count too) and a file list (no packages).
  readsAs: (p) => (p === STATUS ? 'status' : JOURNAL.test(p) ? 'journal' : p.startsWith(STATUS_D) ? 'status.d' : 'list'),
  analyze(input): AnalyzerOutput | undefined {
    const text = input.content.toString('utf8');
    if (input.path.startsWith(INFO)) {
      const base = baseName(input.path).slice(0, -'.list'.length);
      const owner = base.split(':')[0];
      const files = text.split('\n').filter((f) => f.startsWith('/') && f !== '/.');
      return { ownedFiles: [{ owner, files }] };
    }
    if (JOURNAL.test(input.path)) {
      // The journal's stanzas replace the status file's records of those packages for dpkg: report
      // them (a package only the journal names is installed for dpkg) and say that the status file
      // alone is not what dpkg reads.
      // Held to the status file's stanza limit: a journal of millions of empty stanzas is no cheaper.
      const problems: string[] = [];
      const journal = parseStanzas(text, problems, MAX_STANZAS).filter((st) => st.package);
      if (!journal.length) return problems.length ? { diagnostics: [ambiguousDiagnostic(input.path, problems)] } : undefined;
      const { packages, ambiguous } = parseDpkgStatus(text, input.path);
      return {
        packages,
        diagnostics: [...(ambiguous.length ? [ambiguousDiagnostic(input.path, ambiguous)] : []), { code: 'dpkg-journal', path: input.path, incomplete: true, message: `dpkg applies this journal file's ${journal.length} record(s) (${journal.slice(0, 3).map((st) => st.package).join(', ')}${journal.length > 3 ? ', …' : ''}) over /var/lib/dpkg/status before it reads the database; pushgate reads them but does not replay the journal: not judged as dpkg sees it` }],
      };
    }
    const { packages, skipped, ambiguous } = parseDpkgStatus(text, input.path, input.path.startsWith(STATUS_D));
    const diagnostics: Diagnostic[] = [];
    // An installed package whose version cannot be read cannot be matched: incomplete.
    if (skipped.length) diagnostics.push({ code: 'parse-error', path: input.path, message: `dpkg: skipped ${skipped.length} stanza(s): ${skipped.slice(0, 3).join('; ')}`, incomplete: true });
    if (ambiguous.length) diagnostics.push(ambiguousDiagnostic(input.path, ambiguous));
    return { packages, diagnostics: diagnostics.length ? diagnostics : undefined };
  },
};
