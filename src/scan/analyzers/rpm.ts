/**
 * os/rpm: installed RPM packages from the SQLite rpmdb (`/var/lib/rpm/rpmdb.sqlite`, rpm ≥ 4.16;
 * also `/usr/lib/sysimage/rpm/rpmdb.sqlite`): table `Packages(hnum, blob)`, each blob an RPM header
 * (rpm-header.ts). The database is spilled to a temp file and opened read-only with better-sqlite3.
 * rpm keeps the database in WAL mode and truncates the log at close (`PRAGMA wal_checkpoint = TRUNCATE`),
 * so an image's `rpmdb.sqlite-wal` is empty or absent; one holding a committed transaction is read by
 * rpm (every SQLite reader recovers the log over the main file: a package inserted there is listed by
 * `rpm -qa`), pushgate reads the main file alone, so it is an incomplete `rpmdb-wal` diagnostic. A hot
 * rollback journal (`rpmdb.sqlite-journal`, which rpm never leaves: it writes in WAL mode) is played back
 * over the main file by the next connection that writes (rpm -i, dnf), restoring the rows it held: an
 * incomplete `rpmdb-journal` diagnostic.
 * Also the Berkeley DB hash `Packages` (rpm < 4.16) and NDB `Packages.db` (SUSE), read by
 * rpm-bdb.ts. Each database is spilled to the capped temp dir by the walker.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type { Analyzer, AnalyzerOutput, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';
import { parseRpmHeader, sourceRpmName, type RpmHeader } from './rpm-header.js';
import { readBdbBlobs, readNdbBlobs } from './rpm-bdb.js';
import { committedWalFrames, hotJournal } from './sqlite-wal.js';
import { sqliteSchemaTexts } from './sqlite-schema.js';

// SQLite's native binding is loaded when an image holds an rpm sqlite database, not when the
// analyzers are: most images have none, and `pushgate scan` loads it (for the advisory database)
// only once the layers are being read, while they inflate on another thread.
const requireCjs = createRequire(import.meta.url);

/** Turns parsed headers into packages (gpg-pubkey pseudo-packages skipped). */
export function rpmPackages(headers: RpmHeader[], path: string): FoundPackage[] {
  return headers.filter((h) => h.name && h.name !== 'gpg-pubkey').map((h) => {
    const src = sourceRpmName(h.sourceRpm);
    const version = `${h.epoch ? `${h.epoch}:` : ''}${h.version}-${h.release}`;
    return {
      ecosystem: 'RPM', name: h.name, version, epoch: h.epoch, arch: h.arch,
      sourceName: src?.name ?? h.name, sourceVersion: src ? `${h.epoch ? `${h.epoch}:` : ''}${src.version}` : version,
      path, purl: formatPurl({ type: 'rpm', name: h.name, version: `${h.version}-${h.release}`, qualifiers: { arch: h.arch, epoch: h.epoch ? String(h.epoch) : undefined } }),
    };
  });
}

/**
 * Reads every header of an rpmdb.sqlite file, in `hnum` order.
 *
 * The schema is the pusher's: `Packages` must be a stored table (rpm's `CREATE TABLE Packages (hnum
 * INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)`) without an index, not a view, a virtual table or a table
 * with generated columns, whose rows SQLite computes on the reading thread: a 4 KiB file (224 bytes
 * gzipped) whose `Packages` was a recursive view of megabyte blobs held the scan thread until the
 * process was killed. The rows are read in storage order and must fit in the file (each row's blob
 * and a few bytes of cell at least), as stored rows do: a b-tree whose pages name one leaf or one
 * overflow chain many times is refused before it names more rows or bytes than the file holds.
 * @throws Error for any other schema or a database naming more than it holds (a `parse-error` diagnostic).
 */
export function readRpmSqlite(file: string): RpmHeader[] {
  // SQLite loads sqlite_stat4 as it reads the schema, before any statement runs, allocating 24 bytes per
  // sample and column of its index: 20,000 samples of a 1,999-column index (a 408 KiB file) took 4 s and
  // a GiB on the scan thread, and more samples more. rpm's SQLite writes only sqlite_stat1 (PRAGMA
  // optimize, no STAT4), so a database holding it is refused, judged from the file before SQLite opens it.
  if (sqliteSchemaTexts(file).some((t) => /sqlite_stat4/i.test(t))) throw new Error('rpmdb.sqlite: holds sqlite_stat4, statistics rpm never writes (SQLite would load them before reading anything)');
  const db = new (requireCjs('better-sqlite3') as typeof Database)(file, { readonly: true, fileMustExist: true });
  try {
    const kind = db.prepare("SELECT type, sql FROM sqlite_schema WHERE name = 'Packages' COLLATE NOCASE").all() as Array<{ type: string; sql: string | null }>;
    if (kind.length !== 1 || kind[0]!.type !== 'table' || /^\s*create\s+virtual\b/i.test(kind[0]!.sql ?? '')) {
      throw new Error(`rpmdb.sqlite: Packages is ${kind.map((k) => (/^\s*create\s+virtual\b/i.test(k.sql ?? '') ? 'a virtual table' : `a ${k.type}`)).join(' and ') || 'missing'}, not a stored table`);
    }
    const cols = db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all('Packages') as Array<{ name: string; hidden: number }>;
    if (cols.some((c) => c.hidden !== 0)) throw new Error('rpmdb.sqlite: Packages has generated or hidden columns');
    // rpm creates no index on Packages. With one (its rows, too, are the pusher's) SQLite may answer the
    // scan from the index, as sqlite_stat1 steers it: rows left out of it were left out of the scan, while
    // rpm -q reads them from the table by hnum. Refused, and the table alone read (NOT INDEXED).
    const indexes = db.prepare('SELECT name FROM pragma_index_list(?)').all('Packages') as Array<{ name: string }>;
    if (indexes.length) throw new Error(`rpmdb.sqlite: Packages has an index (${indexes.map((i) => i.name).join(', ')}), which rpm never creates`);
    const size = fs.statSync(file).size;
    const rows: Array<{ hnum: number; blob: Buffer }> = [];
    let named = 0;
    for (const r of db.prepare('SELECT hnum, blob FROM Packages NOT INDEXED').iterate() as Iterable<{ hnum: number; blob: Buffer }>) {
      // rpm stores each header as a BLOB. A row whose record stops before `blob` reads the column's
      // DEFAULT, written once in the schema and handed out for every such row: a 400 KB text default
      // over 100,000 one-column rows (a 1.2 MB file) held 40 GB of strings and ran the heap out.
      if (!Buffer.isBuffer(r.blob)) throw new Error(`rpmdb.sqlite: Packages row ${String(r.hnum)} holds ${r.blob === null ? 'NULL' : `a ${typeof r.blob}`}, not a BLOB header`);
      named += r.blob.length + MIN_CELL;
      if (named > size) throw new Error(`rpmdb.sqlite: Packages names more than its ${size}-byte file holds (${rows.length + 1} rows): pages shared between rows`);
      rows.push(r);
    }
    rows.sort((a, b) => a.hnum - b.hnum);
    return rows.map((r) => parseRpmHeader(r.blob));
  } finally {
    db.close();
  }
}

/** Fewest bytes a stored row of `Packages` takes in the file besides its blob (cell pointer, sizes, record header). */
const MIN_CELL = 4;

const SQLITE = /^\/(?:var\/lib\/rpm|usr\/lib\/sysimage\/rpm)\/rpmdb\.sqlite$/;
const WAL = /^\/(?:var\/lib\/rpm|usr\/lib\/sysimage\/rpm)\/rpmdb\.sqlite-wal$/;
const JOURNAL = /^\/(?:var\/lib\/rpm|usr\/lib\/sysimage\/rpm)\/rpmdb\.sqlite-journal$/;
const BDB = /^\/(?:var\/lib\/rpm|usr\/lib\/sysimage\/rpm)\/Packages$/;
const NDB = /^\/(?:var\/lib\/rpm|usr\/lib\/sysimage\/rpm)\/Packages\.db$/;

/** Reads every header of a Berkeley DB `Packages` or NDB `Packages.db` file. */
export function readRpmLegacy(file: string, kind: 'bdb' | 'ndb'): RpmHeader[] {
  return (kind === 'bdb' ? readBdbBlobs(file) : readNdbBlobs(file)).map((b) => parseRpmHeader(b));
}

/** The analyzer. */
export const rpmAnalyzer: Analyzer = {
  name: 'os/rpm',
  version: 11,
  maxSize: 512 * 1024 * 1024,
  sizeClass: 'packagedb',
  spill: true,
  wants: (e) => SQLITE.test(e.path) || WAL.test(e.path) || JOURNAL.test(e.path) || BDB.test(e.path) || NDB.test(e.path),
  names: { baseNames: ['rpmdb.sqlite', 'rpmdb.sqlite-wal', 'rpmdb.sqlite-journal', 'Packages', 'Packages.db'] },
  // The format is told by the name, as rpm's backends are: a sqlite database read as Berkeley DB
  // (or the other way round) is another reading.
  readsAs: (p) => (SQLITE.test(p) ? 'sqlite' : WAL.test(p) ? 'sqlite-wal' : JOURNAL.test(p) ? 'sqlite-journal' : BDB.test(p) ? 'bdb' : 'ndb'),
  analyze(input): AnalyzerOutput {
    if (WAL.test(input.path)) {
      const frames = committedWalFrames(input.file!);
      return frames ? { diagnostics: [{ code: 'rpmdb-wal', path: input.path, incomplete: true, message: `${input.path} holds ${frames} committed frame(s) of a SQLite transaction: rpm (SQLite) reads them over ${input.path.slice(0, -'-wal'.length)}, pushgate reads that file alone; not judged as rpm sees it` }] } : {};
    }
    if (JOURNAL.test(input.path)) {
      return hotJournal(input.file!) ? { diagnostics: [{ code: 'rpmdb-journal', path: input.path, incomplete: true, message: `${input.path} is a hot SQLite rollback journal: rpm (SQLite) writes the pages it holds back into ${input.path.slice(0, -'-journal'.length)} when it next opens it to write, pushgate reads that file alone; not judged as rpm sees it` }] } : {};
    }
    const headers = SQLITE.test(input.path) ? readRpmSqlite(input.file!) : readRpmLegacy(input.file!, BDB.test(input.path) ? 'bdb' : 'ndb');
    return {
      packages: rpmPackages(headers, input.path),
      ownedFiles: headers.filter((h) => h.name !== 'gpg-pubkey').map((h) => ({ owner: h.name, files: h.files })),
    };
  },
};
