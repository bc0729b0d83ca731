/**
 * A SQLite rpmdb's rollback journal: the next connection that writes (rpm -i, dnf) finds a hot
 * `rpmdb.sqlite-journal` and writes its original pages back into the main file, so a package removed
 * in the interrupted transaction is in the database again, while a reading of the main file alone
 * never sees it. The oracle is the real sqlite3 shell opening a copy of the files to write.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import type Database from 'better-sqlite3';
import { rpmAnalyzer } from '../../../src/scan/analyzers/rpm.js';
import { scanLayers } from './layout-helper.js';

const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
const FIXTURE = path.resolve('test/fixtures/scan/rpm/rpmdb.sqlite');

/** The rows the real sqlite3 shell reads from `db` opened to write (a hot journal beside it is played back). */
const rowsBySqlite = (db: string) => {
  try {
    return execFileSync('sqlite3', [db, "SELECT group_concat(hnum || ':' || hex(blob), ',') FROM (SELECT * FROM Packages ORDER BY hnum)"], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    return `error: ${String((e as { stderr?: string }).stderr)}`;
  }
};

describe('scan: rpmdb.sqlite rollback journal', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-rpm-journal-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let seq = 0;
  /**
   * The rpm database with `copies` more rows of its package, then one transaction removing `removed` of
   * them and adding `added`: the main file once it committed, and the journal as it stood before the
   * commit (`mode` DELETE), or as the commit left it (PERSIST zeroes its header, TRUNCATE empties it).
   */
  function build(copies: number, removed: number, added: number, mode: 'DELETE' | 'PERSIST' | 'TRUNCATE'): { dir: string; db: Buffer; journal: Buffer } {
    const dir = path.join(tmp, `j${seq++}`);
    fs.mkdirSync(dir);
    const work = path.join(dir, 'work.sqlite');
    fs.copyFileSync(FIXTURE, work);
    const db = new Sqlite(work);
    try {
      db.pragma(`journal_mode = ${mode}`);
      db.pragma('cache_size = 1');
      db.pragma('foreign_keys = OFF');
      // the journal's header then counts its pages by its length (nRec 0xffffffff), so the copy taken
      // before the commit holds them all
      db.pragma('synchronous = OFF');
      const blob = (db.prepare('SELECT blob FROM Packages LIMIT 1').get() as { blob: Buffer }).blob;
      const ins = db.prepare('INSERT INTO Packages (blob) VALUES (?)');
      for (let i = 0; i < copies; i++) ins.run(blob);
      let journal = Buffer.alloc(0);
      db.exec('BEGIN IMMEDIATE');
      db.prepare('DELETE FROM Packages WHERE hnum IN (SELECT hnum FROM Packages ORDER BY hnum DESC LIMIT ?)').run(removed);
      for (let i = 0; i < added; i++) ins.run(blob);
      if (mode === 'DELETE' && fs.existsSync(`${work}-journal`)) journal = fs.readFileSync(`${work}-journal`);
      db.exec('COMMIT');
      if (mode !== 'DELETE' && fs.existsSync(`${work}-journal`)) journal = fs.readFileSync(`${work}-journal`);
      return { dir, db: fs.readFileSync(work), journal };
    } finally {
      db.close();
    }
  }

  const analyze = (file: string, p = '/var/lib/rpm/rpmdb.sqlite-journal') => {
    expect(rpmAnalyzer.wants({ path: p } as Parameters<typeof rpmAnalyzer.wants>[0]), p).to.equal(true);
    return rpmAnalyzer.analyze!({ path: p, file } as never, {} as never) as { diagnostics?: Array<{ code: string; incomplete?: boolean }> };
  };

  it('a journal SQLite plays back is named; one it does not read is not (fast-check, real sqlite3)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 3 }), fc.constantFrom('DELETE' as const, 'PERSIST' as const, 'TRUNCATE' as const), (copies, removed, added, mode) => {
      const { dir, db, journal } = build(copies, removed, added, mode);
      const img = path.join(dir, 'img');
      fs.mkdirSync(img);
      fs.writeFileSync(path.join(img, 'rpmdb.sqlite'), db);
      fs.writeFileSync(path.join(img, 'rpmdb.sqlite-journal'), journal);
      const alone = path.join(dir, 'alone');
      fs.mkdirSync(alone);
      fs.writeFileSync(path.join(alone, 'rpmdb.sqlite'), db);
      const journalFile = path.join(dir, 'journal');
      fs.writeFileSync(journalFile, journal);
      const named = (analyze(journalFile).diagnostics ?? []).some((d) => d.code === 'rpmdb-journal' && d.incomplete);
      const played = rowsBySqlite(path.join(img, 'rpmdb.sqlite')) !== rowsBySqlite(path.join(alone, 'rpmdb.sqlite'));
      const what = `copies ${copies} removed ${removed} added ${added} ${mode}`;
      // every journal that changes what SQLite reads is named, and none a commit left behind
      if (played) expect(named, what).to.equal(true);
      if (mode !== 'DELETE') expect(named, what).to.equal(false);
    }), { numRuns: 30 });
  });

  it('the engine: a hot journal is an incomplete rpmdb-journal diagnostic under both rpm directories', async () => {
    const { db, journal } = build(2, 2, 0, 'DELETE');
    expect(journal.length).to.be.greaterThan(512);
    const scan = (name: string, layers: Array<Array<{ name: string; content: Buffer | string }>>) => scanLayers(tmp, name, layers);
    const osRelease = { name: 'etc/os-release', content: 'ID="rocky"\nVERSION_ID="8.8"\n' };
    for (const dbDir of ['var/lib/rpm', 'usr/lib/sysimage/rpm']) {
      const hidden = await scan(`hidden-${dbDir.length}`, [[osRelease, { name: `${dbDir}/rpmdb.sqlite`, content: db }, { name: `${dbDir}/rpmdb.sqlite-journal`, content: journal }]]);
      expect(hidden.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path}`)).to.deep.equal([`rpmdb-journal /${dbDir}/rpmdb.sqlite-journal`]);
    }
    const empty = await scan('empty', [[osRelease, { name: 'var/lib/rpm/rpmdb.sqlite', content: db }, { name: 'var/lib/rpm/rpmdb.sqlite-journal', content: Buffer.alloc(0) }]]);
    expect(empty.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
  });
});
