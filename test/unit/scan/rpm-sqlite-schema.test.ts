/**
 * An rpmdb.sqlite's schema is the pusher's: `Packages` must be a stored table whose rows fit in the
 * file. A view, a virtual table or generated columns are computed by SQLite on the scan thread (a
 * recursive view of megabyte blobs, 224 bytes gzipped, held it until the process was killed), and a
 * leaf page naming one overflow chain many times names more than the file holds.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import type Database from 'better-sqlite3';
import { readRpmSqlite } from '../../../src/scan/analyzers/rpm.js';
import { parseRpmHeader } from '../../../src/scan/analyzers/rpm-header.js';
import { sqliteSchemaTexts } from '../../../src/scan/analyzers/sqlite-schema.js';

const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
const RPM_SCHEMA = 'CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)';
const REAL = path.resolve('test/fixtures/scan/parsers/rpm/cbl-mariner-2.0/rpmdb.sqlite');

describe('scan: rpmdb.sqlite schema and size', function () {
  this.timeout(60_000);
  let tmp: string;
  let n = 0;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-rpm-schema-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const make = (sql: string[], pageSize = 4096): string => {
    const f = path.join(tmp, `db${n++}.sqlite`);
    const db = new Sqlite(f);
    db.pragma(`page_size = ${pageSize}`);
    for (const s of sql) db.exec(s);
    db.close();
    return f;
  };
  /** The reading before the checks: every row's blob in hnum order. */
  const reference = (f: string) => {
    const db = new Sqlite(f, { readonly: true });
    try {
      return (db.prepare('SELECT blob FROM Packages ORDER BY hnum').all() as Array<{ blob: Buffer }>).map((r) => parseRpmHeader(r.blob));
    } finally { db.close(); }
  };

  it('a stored table reads as before: the real Mariner database and generated ones (fast-check)', () => {
    expect(readRpmSqlite(REAL)).to.deep.equal(reference(REAL));
    const real = new Sqlite(REAL, { readonly: true });
    const blobs = (real.prepare('SELECT blob FROM Packages').all() as Array<{ blob: Buffer }>).map((r) => r.blob);
    real.close();
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: blobs.length - 1 })), { maxLength: 20 }), fc.constantFrom(1024, 4096, 65536), (rows, pageSize) => {
      const f = make([RPM_SCHEMA], pageSize);
      const db = new Sqlite(f);
      const ins = db.prepare('INSERT OR REPLACE INTO Packages (hnum, blob) VALUES (?, ?)');
      for (const [h, b] of rows) ins.run(h, blobs[b]);
      db.close();
      expect(readRpmSqlite(f)).to.deep.equal(reference(f));
    }), { numRuns: 40 });
  });

  it('a view, a virtual table or generated columns named Packages are refused at once', () => {
    const view = make(['CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS hnum, zeroblob(1000000) AS blob FROM c']);
    const t = Date.now();
    expect(() => readRpmSqlite(view)).to.throw(/a view, not a stored table/);
    expect(Date.now() - t).to.be.below(2000);
    expect(() => readRpmSqlite(make(['CREATE VIRTUAL TABLE Packages USING fts5(hnum, blob)']))).to.throw(/virtual table/);
    expect(() => readRpmSqlite(make(['CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, seed INTEGER, blob BLOB AS (zeroblob(seed)) VIRTUAL)', 'INSERT INTO Packages (hnum, seed) VALUES (1, 100000000)']))).to.throw(/generated/);
  });

  it('an index on Packages is refused: SQLite may read its rows instead of the table\'s (fast-check)', () => {
    // rpm creates no index on Packages. With one (any kind: on an expression, partial, UNIQUE's
    // automatic one) and sqlite_stat1 saying its rows are small, SQLite answers the full scan from the
    // index, whose rows the pusher wrote too: the rows missing from it were missing from the scan, while
    // rpm -q finds them in the table by hnum.
    const real = new Sqlite(REAL, { readonly: true });
    const blobs = (real.prepare('SELECT blob FROM Packages LIMIT 8').all() as Array<{ blob: Buffer }>).map((r) => r.blob);
    real.close();
    const kinds = [
      { schema: RPM_SCHEMA, index: (w: string) => `CREATE INDEX i ON Packages (blob)${w}`, name: 'i' },
      { schema: RPM_SCHEMA, index: (w: string) => `CREATE INDEX i ON Packages (blob, hnum)${w}`, name: 'i' },
      { schema: RPM_SCHEMA, index: (w: string) => `CREATE INDEX i ON Packages (hnum, blob)${w}`, name: 'i' },
      { schema: RPM_SCHEMA, index: (w: string) => `CREATE UNIQUE INDEX i ON Packages (blob)${w}`, name: 'i' },
    ];
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: blobs.length - 1 }), { minLength: 2, maxLength: blobs.length }), fc.nat(), fc.constantFrom(...kinds), (picked, drop, kind) => {
      const hidden = drop % picked.length + 1;
      const f = make([kind.schema]);
      const db = new Sqlite(f);
      const ins = db.prepare('INSERT INTO Packages (hnum, blob) VALUES (?, ?)');
      picked.forEach((b, i) => ins.run(i + 1, blobs[b]));
      // the index is written without one row, then its schema says it holds them all
      db.exec(kind.index(` WHERE hnum != ${hidden}`));
      // sqlite_stat1 alone, as rpm's SQLite (no STAT4) writes it
      db.exec('ANALYZE');
      db.exec('DROP TABLE IF EXISTS sqlite_stat4');
      db.unsafeMode(true);
      db.pragma('writable_schema = ON');
      db.prepare('UPDATE sqlite_schema SET sql = ? WHERE name = ?').run(kind.index(''), kind.name);
      db.exec('DELETE FROM sqlite_stat1');
      db.prepare('INSERT INTO sqlite_stat1 VALUES (?, ?, ?)').run('Packages', kind.name, `${picked.length} 1 sz=1`);
      db.prepare('INSERT INTO sqlite_stat1 VALUES (?, NULL, ?)').run('Packages', `${picked.length} sz=250`);
      db.close();
      // the table holds every row (rpm -q reads it by hnum)
      const t = new Sqlite(f, { readonly: true });
      const stored = (t.prepare('SELECT blob FROM Packages NOT INDEXED ORDER BY hnum').all() as Array<{ blob: Buffer }>).map((r) => parseRpmHeader(r.blob));
      t.close();
      expect(stored).to.have.length(picked.length);
      let read;
      try {
        read = readRpmSqlite(f);
      } catch (e) {
        expect((e as Error).message).to.match(/index/);
        return;
      }
      expect(read).to.deep.equal(stored);
    }), { numRuns: 30 });
    // an automatic index (UNIQUE, a PRIMARY KEY that is not the rowid) is one too
    expect(() => readRpmSqlite(make(['CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL UNIQUE)']))).to.throw(/index/);
    expect(() => readRpmSqlite(make(['CREATE TABLE Packages (hnum INT PRIMARY KEY, blob BLOB NOT NULL)']))).to.throw(/index/);
  });

  it('the schema read from the file is SQLite\'s: generated schemas, page sizes and encodings (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 3000 })), { minLength: 1, maxLength: 40 }), fc.constantFrom(512, 1024, 4096, 65536), fc.constantFrom('UTF-8', 'UTF-16le', 'UTF-16be'), (tables, pageSize, encoding) => {
      const f = make([`PRAGMA encoding = '${encoding}'`, RPM_SCHEMA, ...tables.map(([cols, pad], i) => `CREATE TABLE "t${i}é" (${Array.from({ length: cols }, (_, c) => `c${c}`).join(', ')}) /*${'x'.repeat(pad)}*/`)], pageSize);
      const db = new Sqlite(f, { readonly: true });
      const real = (db.prepare('SELECT name, sql FROM sqlite_schema').all() as Array<{ name: string; sql: string | null }>);
      db.close();
      const ours = sqliteSchemaTexts(f);
      for (const r of real) {
        expect(ours).to.include(r.name);
        if (r.sql !== null) expect(ours).to.include(r.sql);
      }
    }), { numRuns: 40 });
  });

  it('the schema is read as SQLite reads it: BLOB-typed rows and any encoding field (its low two bits), sqlite_stat4 refused (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 2000 })), { minLength: 1, maxLength: 12 }), fc.constantFrom(512, 4096, 65536), fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 0x3fffff }), (tables, pageSize, e, high) => {
      const f = make([`PRAGMA encoding = '${['UTF-8', 'UTF-16le', 'UTF-16be'][e]}'`, RPM_SCHEMA, ...tables.map(([, , pad], i) => `CREATE TABLE ${i === 0 ? 'zqlite_stat4' : `t${i}`} (c) /*${'x'.repeat(pad)}*/`)], pageSize);
      const w = new Sqlite(f);
      w.unsafeMode(true);
      w.pragma('writable_schema = ON');
      tables.forEach(([blobName, blobSql], i) => {
        const n = i === 0 ? 'zqlite_stat4' : `t${i}`;
        const to = i === 0 ? 'sqlite_stat4' : n;
        w.prepare(`UPDATE sqlite_schema SET name = ${blobName ? 'CAST(? AS BLOB)' : '?'}, tbl_name = ${blobName ? 'CAST(? AS BLOB)' : '?'}, sql = ${blobSql ? 'CAST(replace(sql, ?, ?) AS BLOB)' : 'replace(sql, ?, ?)'} WHERE name = ?`).run(to, to, n, to, n);
      });
      w.close();
      // the field's upper bits, which SQLite ignores
      const b = fs.readFileSync(f);
      b.writeUInt32BE(((high << 2) | b.readUInt32BE(56)) >>> 0, 56);
      fs.writeFileSync(f, b);
      const db = new Sqlite(f, { readonly: true });
      const real = (db.prepare('SELECT CAST(name AS TEXT) AS name, CAST(sql AS TEXT) AS sql FROM sqlite_schema').all() as Array<{ name: string; sql: string | null }>);
      expect(db.prepare('SELECT count(*) AS n FROM sqlite_stat4').get()).to.deep.equal({ n: 0 });
      db.close();
      const ours = sqliteSchemaTexts(f);
      for (const r of real) {
        expect(ours).to.include(r.name);
        if (r.sql !== null) expect(ours).to.include(r.sql);
      }
      expect(() => readRpmSqlite(f)).to.throw(/sqlite_stat4/);
    }), { numRuns: 40 });
  });

  it('schema cells named many times are refused before they hold more than the file (fast-check)', () => {
    fc.assert(fc.property(fc.integer({ min: 2000, max: 60_000 }), fc.integer({ min: 2, max: 30_000 }), (pad, times) => {
      const f = make([`CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL) /*${'x'.repeat(pad)}*/`], 65536);
      const b = fs.readFileSync(f);
      const cell = b.readUInt16BE(108);
      const n = Math.min(times, Math.floor((cell - 108) / 2));
      b.writeUInt16BE(n, 103);
      for (let i = 0; i < n; i++) b.writeUInt16BE(cell, 108 + i * 2);
      fs.writeFileSync(f, b);
      let texts: string[];
      try {
        texts = sqliteSchemaTexts(f);
      } catch (e) {
        expect((e as Error).message).to.match(/sqlite schema/);
        return;
      }
      expect(texts.reduce((a, t) => a + t.length, 0)).to.be.at.most(b.length);
    }), { numRuns: 15 });
  });

  it('sqlite_stat4, which SQLite loads before any statement, is refused from the file at once', () => {
    // 20,000 samples of a 1,999-column index (408 KiB): SQLite allocated a GiB and took 4 s to load them
    const cols = Array.from({ length: 1999 }, (_, i) => `c${i}`).join(', ');
    const f = make([RPM_SCHEMA, `CREATE TABLE t (${cols})`, `CREATE INDEX w ON t (${cols})`, 'INSERT INTO t (c0) VALUES (1)', 'ANALYZE',
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) INSERT INTO sqlite_stat4 SELECT 't', 'w', '1', '1', '1', x'' FROM n"]);
    const t = Date.now();
    expect(() => readRpmSqlite(f)).to.throw(/sqlite_stat4/);
    expect(Date.now() - t).to.be.below(1500);
    // sqlite_stat1, which rpm's PRAGMA optimize writes, is read as before
    const g = make([RPM_SCHEMA, 'CREATE INDEX k ON Packages (blob)', 'ANALYZE', 'DROP TABLE IF EXISTS sqlite_stat4', 'DROP INDEX k']);
    expect(readRpmSqlite(g)).to.deep.equal([]);
  });

  it('a leaf page naming one overflow chain many times is refused within the file\'s size', () => {
    // 489 + 5 × 4092 + 10 bytes: a payload whose part on the leaf is 499 bytes (SQLite file format,
    // "Cell Payload Overflow Pages", 4 KiB pages), leaving room for the cell pointers
    const f = make([RPM_SCHEMA, 'INSERT INTO Packages (hnum, blob) VALUES (1, zeroblob(20959))']);
    const b = fs.readFileSync(f);
    const pageSize = b.readUInt16BE(16);
    // the table's root page (its number in sqlite_schema) is a leaf of one cell: name that cell 50 times
    // (the sqlite3 shell reads 50 rows of 20,959 bytes from the 32 KiB file)
    const root = (new Sqlite(f, { readonly: true }).prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'Packages'").get() as { rootpage: number }).rootpage;
    const at = (root - 1) * pageSize;
    expect(b[at]).to.equal(0x0d);
    const cell = b.readUInt16BE(at + 8);
    b.writeUInt16BE(50, at + 3);
    for (let i = 0; i < 50; i++) b.writeUInt16BE(cell, at + 8 + i * 2);
    const g = path.join(tmp, 'shared.sqlite');
    fs.writeFileSync(g, b);
    expect(() => readRpmSqlite(g)).to.throw(/more than its \d+-byte file holds/);
  });
  it('a row reading the column DEFAULT (no blob in its record) that is no BLOB is refused at its first row (fast-check)', () => {
    fc.assert(fc.property(
      fc.constantFrom('NULL', 'text', 'integer', 'real'),
      fc.integer({ min: 1, max: 4000 }),
      fc.integer({ min: 1, max: 300 }),
      (kind, size, rows) => {
        const dflt = kind === 'NULL' ? 'NULL' : kind === 'text' ? `'${'a'.repeat(size)}'` : kind === 'integer' ? String(size) : `${size}.5`;
        const f = make(['CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT)', `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${rows}) INSERT INTO Packages (hnum) SELECT x FROM c`]);
        const db = new Sqlite(f);
        db.unsafeMode(true);
        db.pragma('writable_schema = ON');
        db.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = 'Packages'").run(`CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL DEFAULT ${dflt})`);
        db.close();
        expect(() => readRpmSqlite(f)).to.throw(/Packages row 1 holds .*not a BLOB header/);
      },
    ), { numRuns: 25 });
    // 100,000 rows reading a 400 KB text default: the previous code ran the heap out
    const f = make(['CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT)', 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) INSERT INTO Packages (hnum) SELECT x FROM c']);
    const db = new Sqlite(f);
    db.unsafeMode(true);
    db.pragma('writable_schema = ON');
    db.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = 'Packages'").run(`CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL DEFAULT '${'a'.repeat(400_000)}')`);
    db.close();
    const t0 = Date.now();
    expect(() => readRpmSqlite(f)).to.throw(/not a BLOB header/);
    expect(Date.now() - t0).to.be.below(2000);
  });
});
