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
import type { Analyzer, AnalyzerOutput, FoundPackage } from './types.js';
import { baseName } from './types.js';
import { formatPurl } from '../purl.js';

/**
 * One deb-control stanza: field name (lower-cased: dpkg matches field names case-insensitively) →
 * value (continuation lines joined with `\n`).
 */
export type Stanza = Record<string, string>;

/** Splits deb-control text into stanzas (blank-line separated; continuation lines start with space/tab). */
export function parseStanzas(text: string): Stanza[] {
  const out: Stanza[] = [];
  let cur: Stanza = {};
  let last: string | undefined;
  let any = false;
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.trim() === '') {
      if (any) out.push(cur);
      cur = {};
      last = undefined;
      any = false;
      continue;
    }
    if ((l[0] === ' ' || l[0] === '\t') && last) {
      cur[last] += '\n' + l.slice(1);
      continue;
    }
    const c = l.indexOf(':');
    if (c <= 0) continue;
    last = l.slice(0, c).toLowerCase();
    cur[last] = l.slice(c + 1).trim();
    any = true;
  }
  if (any) out.push(cur);
  return out;
}

// Debian policy §5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
const DEB_VERSION = /^(?:\d+:)?[0-9][A-Za-z0-9.+~:-]*$/;

/** True for a syntactically valid Debian version. */
export function isDebVersion(v: string): boolean {
  if (!DEB_VERSION.test(v)) return false;
  const colon = v.indexOf(':');
  const rest = colon >= 0 ? v.slice(colon + 1) : v;
  return !(colon < 0 && rest.includes(':'));
}

/**
 * dpkg's package states (dpkg(1) "Package states") in which the package's files are unpacked on disk:
 * a library left `unpacked` or `half-configured` is loaded by every program that links it.
 */
const ON_DISK: ReadonlySet<string> = new Set(['installed', 'unpacked', 'half-configured', 'half-installed', 'triggers-awaited', 'triggers-pending']);

/** Parses a `status` (or status.d) file into the packages whose files are on disk. */
export function parseDpkgStatus(text: string, path: string, statusD = false): { packages: FoundPackage[]; skipped: string[] } {
  const packages: FoundPackage[] = [];
  const skipped: string[] = [];
  for (const s of parseStanzas(text)) {
    const name = s.package;
    if (!name) continue;
    const status = s.status;
    if (status !== undefined) {
      // dpkg reads the status words in any case (namevalue_find_by_name: strncasecmp): `install ok Installed`
      // is installed to dpkg and dpkg-query
      if (!ON_DISK.has((status.trim().split(/\s+/)[2] ?? '').toLowerCase())) continue;
    } else if (!statusD) continue;
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
        sourceName = m[1];
        if (m[2]) sourceVersion = m[2].trim();
      }
    }
    const arch = s.architecture || undefined;
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
  return { packages, skipped };
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

/** The analyzer. */
export const dpkgAnalyzer: Analyzer = {
  name: 'os/dpkg',
  version: 3,
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
      const journal = parseStanzas(text).filter((st) => st.package);
      if (!journal.length) return undefined;
      const { packages } = parseDpkgStatus(text, input.path);
      return {
        packages,
        diagnostics: [{ code: 'dpkg-journal', path: input.path, incomplete: true, message: `dpkg applies this journal file's ${journal.length} record(s) (${journal.slice(0, 3).map((st) => st.package).join(', ')}${journal.length > 3 ? ', …' : ''}) over /var/lib/dpkg/status before it reads the database; pushgate reads them but does not replay the journal: not judged as dpkg sees it` }],
      };
    }
    const { packages, skipped } = parseDpkgStatus(text, input.path, input.path.startsWith(STATUS_D));
    return {
      packages,
      diagnostics: skipped.length
        // An installed package whose version cannot be read cannot be matched: incomplete.
        ? [{ code: 'parse-error', path: input.path, message: `dpkg: skipped ${skipped.length} stanza(s): ${skipped.slice(0, 3).join('; ')}`, incomplete: true }]
        : undefined,
    };
  },
};
