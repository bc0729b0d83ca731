/**
 * A SQLite rpmdb's write-ahead log: rpm (every SQLite reader) recovers `rpmdb.sqlite-wal` over the
 * main file, so a package inserted there is listed by `rpm -qa` while a reading of the main file
 * alone never sees it. The oracle is the real sqlite3 shell reading the database with and without
 * its log; the databases start from one rpm built (test/fixtures/scan/rpm/rpmdb.sqlite, WAL mode).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import type Database from 'better-sqlite3';
import { committedWalFrames } from '../../../src/scan/analyzers/sqlite-wal.js';
import { scanLayers } from './layout-helper.js';

const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
const FIXTURE = path.resolve('test/fixtures/scan/rpm/rpmdb.sqlite');

/** Rows the real sqlite3 shell reads from `db` (read-only; its -wal beside it, when there is one). */
const rowsBySqlite = (db: string) => Number(execFileSync('sqlite3', ['-readonly', db, 'SELECT count(*) FROM Packages'], { encoding: 'utf8' }).trim());

describe('scan: rpmdb.sqlite write-ahead log', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-rpm-wal-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  let seq = 0;
  /**
   * The rpm database with `inserts` more copies of its package, committed in `commits` transactions
   * to the log (none checkpointed), the log then cut to `cut` of its length: the files as an image
   * would carry them, copied while the writer is open (closing would checkpoint).
   */
  function build(inserts: number, commits: number, cut: number): { dir: string; db: Buffer; wal: Buffer } {
    const dir = path.join(tmp, `w${seq++}`);
    fs.mkdirSync(dir);
    const work = path.join(dir, 'work.sqlite');
    fs.copyFileSync(FIXTURE, work);
    const db = new Sqlite(work);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('wal_autocheckpoint = 0');
      db.pragma('wal_checkpoint(TRUNCATE)');
      const blob = (db.prepare('SELECT blob FROM Packages LIMIT 1').get() as { blob: Buffer }).blob;
      const ins = db.prepare('INSERT INTO Packages (blob) VALUES (?)');
      for (let c = 0; c < commits; c++) db.transaction(() => { for (let i = c; i < inserts; i += commits) ins.run(blob); })();
      const main = fs.readFileSync(work);
      const walFile = `${work}-wal`;
      const wal = fs.existsSync(walFile) ? fs.readFileSync(walFile) : Buffer.alloc(0);
      return { dir, db: main, wal: wal.subarray(0, Math.floor(wal.length * cut)) };
    } finally {
      db.close();
    }
  }

  it('a log is named exactly when SQLite reads rows from it (fast-check, real sqlite3)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })), (inserts, commits, cut) => {
      const { dir, db, wal } = build(inserts, commits, cut);
      const img = path.join(dir, 'img');
      fs.mkdirSync(img);
      fs.writeFileSync(path.join(img, 'rpmdb.sqlite'), db);
      fs.writeFileSync(path.join(img, 'rpmdb.sqlite-wal'), wal);
      const alone = path.join(dir, 'alone');
      fs.mkdirSync(alone);
      fs.writeFileSync(path.join(alone, 'rpmdb.sqlite'), db);
      const withLog = rowsBySqlite(path.join(img, 'rpmdb.sqlite'));
      const mainOnly = rowsBySqlite(path.join(alone, 'rpmdb.sqlite'));
      const frames = committedWalFrames(path.join(img, 'rpmdb.sqlite-wal'));
      // the log changes what SQLite reads only when it commits frames, and rows were added by each commit
      expect(frames > 0, `inserts ${inserts} commits ${commits} cut ${cut}: ${withLog} rows with the log, ${mainOnly} without`).to.equal(withLog !== mainOnly);
    }), { numRuns: 40 });
  });

  it('the engine: a committed log is an incomplete rpmdb-wal diagnostic; an empty or whited-out log is not', async () => {
    const { db, wal } = build(1, 1, 1);
    expect(wal.length).to.be.greaterThan(32);
    const scan = (name: string, layers: Array<Array<{ name: string; content: Buffer | string }>>) => scanLayers(tmp, name, layers);
    const osRelease = { name: 'etc/os-release', content: 'ID="rocky"\nVERSION_ID="8.8"\n' };
    for (const dbDir of ['var/lib/rpm', 'usr/lib/sysimage/rpm']) {
      const hidden = await scan(`hidden-${dbDir.length}`, [[osRelease, { name: `${dbDir}/rpmdb.sqlite`, content: db }, { name: `${dbDir}/rpmdb.sqlite-wal`, content: wal }]]);
      expect(hidden.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path}`)).to.deep.equal([`rpmdb-wal /${dbDir}/rpmdb.sqlite-wal`]);
    }
    const empty = await scan('empty', [[osRelease, { name: 'var/lib/rpm/rpmdb.sqlite', content: db }, { name: 'var/lib/rpm/rpmdb.sqlite-wal', content: Buffer.alloc(0) }]]);
    expect(empty.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
    expect(empty.packages.filter((p) => p.analyzer === 'os/rpm')).to.have.length(1);
    const removed = await scan('removed', [
      [osRelease, { name: 'var/lib/rpm/rpmdb.sqlite', content: db }, { name: 'var/lib/rpm/rpmdb.sqlite-wal', content: wal }],
      [{ name: 'var/lib/rpm/.wh.rpmdb.sqlite-wal', content: '' }],
    ]);
    expect(removed.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
  });
});
