/**
 * os/apk: installed Alpine/Wolfi packages from `/lib/apk/db/installed` and, as apk-tools 3 reads it too,
 * `/lib/apk/db-uvol/installed` (apk-tools database format:
 * one stanza per package, `P:` name, `V:` version, `A:` arch, `o:` origin = source package, `F:` a
 * directory and the following `R:` lines its files). A stanza without `P:` or `V:` (which apk-tools
 * refuses) or with an empty one is not reported and makes the scan incomplete; a field given twice
 * takes the last value, as apk-tools does, and makes the scan incomplete.
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
 * a stanza, two stanzas of one name (apk keeps one installed package per name), a stanza without
 * `P:` or `V:` (apk rejects the database) or with an empty one, and carriage returns (apk keeps them
 * in the value, where other readers strip them). Line lengths are counted in bytes, as apk-tools
 * counts them. apk-tools never writes any of these.
 */
export function parseApkInstalled(text: string, path: string): { packages: FoundPackage[]; owned: Array<{ owner: string; files: string[] }>; ambiguous: string[] } {
  const packages: FoundPackage[] = [];
  const owned: Array<{ owner: string; files: string[] }> = [];
  const ambiguous: string[] = [];
  const names = new Set<string>();
  let cur: Record<string, string> = {};
  let files: string[] = [];
  let dir = '';
  let hasDir = false;
  let lineNo = 0;
  const note = (why: string) => { if (ambiguous.length < 20) ambiguous.push(`line ${lineNo}: ${why}`); };
  let fields = false;
  const flush = () => {
    // apk_db_pkg_add refuses a stanza without a name or a version (and with it the database); an empty
    // `P:` or `V:` is a package apk-tools installs under an empty name or version, which no advisory matches
    if (fields && (!cur.P || !cur.V)) note(`a stanza ${cur.P === undefined ? 'without P:' : cur.V === undefined ? `of ${cur.P} without V:` : `with an empty P: or V: (${cur.P || '""'} ${cur.V || '""'})`}`);
    fields = false;
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
    hasDir = false;
  };
  if (text.includes('\r')) ambiguous.push('carriage return in the database (apk keeps it in the value)');
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // apk-tools counts bytes: `é` (two bytes) is no stanza end to it but a line whose second byte is not `:`
    if (raw.length < 2 && Buffer.byteLength(raw) < 2) { flush(); continue; }
    fields = true;
    if (line[1] !== ':' || line.charCodeAt(0) > 0x7f) { note(`"${line.slice(0, 30)}" is not a field (apk-tools: FDB format error)`); continue; }
    const k = line[0]!;
    const v = line.slice(2);
    // apk-tools rejects a directory before the stanza's name and a file before any directory ("FDB format error")
    if (k === 'F') { if (cur.P === undefined) note('F: before P: (apk-tools: FDB format error)'); dir = v; hasDir = true; }
    else if (k === 'R') { if (!hasDir) note('R: before any F: (apk-tools: FDB format error)'); files.push(`/${dir ? `${dir}/` : ''}${v}`); }
    else {
      if (PKG_FIELDS.has(k) && k in cur) note(`${k}: given twice in one stanza (apk-tools keeps the last)`);
      cur[k] = v;
    }
  }
  flush();
  return { packages, owned, ambiguous };
}

/**
 * The installed databases apk-tools reads: apk-tools 3 opens every database layer (database.c
 * `apk_db_read_layer` for each of APK_DB_LAYER_NUM, `apk_db_layer_name`: `lib/apk/db` and
 * `lib/apk/db-uvol`) and lists the packages of both as installed, so a record moved to the second
 * was installed to `apk info` and unseen by the scan.
 */
const INSTALLED_DBS = ['/lib/apk/db/installed', '/lib/apk/db-uvol/installed'];

/** The analyzer. */
export const apkAnalyzer: Analyzer = {
  name: 'os/apk',
  // 4: `/lib/apk/db-uvol/installed` too.
  version: 4,
  maxSize: 64 * 1024 * 1024,
  sizeClass: 'packagedb',
  wants: (e) => INSTALLED_DBS.includes(e.path),
  names: { paths: INSTALLED_DBS },
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
