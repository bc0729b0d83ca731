/**
 * os/apk: installed Alpine/Wolfi packages from `/lib/apk/db/installed` (apk-tools database format:
 * one stanza per package, `P:` name, `V:` version, `A:` arch, `o:` origin = source package, `F:` a
 * directory and the following `R:` lines its files). Stanzas without `V:` are skipped, as trivy does;
 * a field given twice takes the last value, as apk-tools does, and makes the scan incomplete.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

/** Fields apk-tools reads into the package (apk_pkg_add_info), where a second line replaces the first. */
const PKG_FIELDS = new Set(['P', 'V', 'A', 'o']);

/**
 * Parses the installed database as apk-tools 2.x reads it (database.c apk_db_fdb_read): a line shorter
 * than two bytes ends a stanza (an empty line, a lone `\r` or any one character); every other line
 * is `X:value`; a `P:`/`V:`/`A:`/`o:` line replaces an earlier one of the stanza (apk_pkg_add_info
 * assigns), so the last counts. `ambiguous` lists what apk-tools reads otherwise or not at all: a line
 * whose second byte is not `:` (apk rejects the database: "FDB format error"), a field given twice in
 * a stanza, two stanzas of one name (apk keeps one installed package per name), and carriage returns
 * (apk keeps them in the value, where other readers strip them). apk-tools never writes any of these.
 */
export function parseApkInstalled(text: string, path: string): { packages: FoundPackage[]; owned: Array<{ owner: string; files: string[] }>; ambiguous: string[] } {
  const packages: FoundPackage[] = [];
  const owned: Array<{ owner: string; files: string[] }> = [];
  const ambiguous: string[] = [];
  const names = new Set<string>();
  let cur: Record<string, string> = {};
  let files: string[] = [];
  let dir = '';
  let lineNo = 0;
  const note = (why: string) => { if (ambiguous.length < 20) ambiguous.push(`line ${lineNo}: ${why}`); };
  const flush = () => {
    if (cur.P && cur.V) {
      if (names.has(cur.P)) note(`a second stanza of ${cur.P}`);
      names.add(cur.P);
      packages.push({
        ecosystem: 'Alpine',
        name: cur.P,
        version: cur.V,
        sourceName: cur.o || cur.P,
        sourceVersion: cur.V,
        arch: cur.A,
        path,
        purl: formatPurl({ type: 'apk', namespace: 'alpine', name: cur.P, version: cur.V, qualifiers: { arch: cur.A } }),
      });
      owned.push({ owner: cur.P, files });
    }
    cur = {};
    files = [];
    dir = '';
  };
  if (text.includes('\r')) ambiguous.push('carriage return in the database (apk keeps it in the value)');
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (raw.length < 2) { flush(); continue; }
    if (line[1] !== ':') { note(`"${line.slice(0, 30)}" is not a field (apk-tools: FDB format error)`); continue; }
    const k = line[0]!;
    const v = line.slice(2);
    if (k === 'F') dir = v;
    else if (k === 'R') files.push(`/${dir ? `${dir}/` : ''}${v}`);
    else {
      if (PKG_FIELDS.has(k) && k in cur) note(`${k}: given twice in one stanza (apk-tools keeps the last)`);
      cur[k] = v;
    }
  }
  flush();
  return { packages, owned, ambiguous };
}

/** The analyzer. */
export const apkAnalyzer: Analyzer = {
  name: 'os/apk',
  version: 2,
  maxSize: 64 * 1024 * 1024,
  sizeClass: 'packagedb',
  wants: (e) => e.path === '/lib/apk/db/installed',
  names: { paths: ['/lib/apk/db/installed'] },
  analyze(input) {
    const { packages, owned, ambiguous } = parseApkInstalled(input.content.toString('utf8'), input.path);
    return {
      packages,
      ownedFiles: owned,
      diagnostics: ambiguous.length
        ? [{ code: 'apk-ambiguous', path: input.path, incomplete: true, message: `apk-tools would not read this database as pushgate did: ${ambiguous.slice(0, 3).join('; ')}${ambiguous.length > 3 ? `; … (${ambiguous.length})` : ''}; not judged` }]
        : undefined,
    };
  },
};
