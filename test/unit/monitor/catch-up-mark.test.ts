/**
 * The monitor's catch-up reads only the reports written since its mark (the store's numbering of report
 * writes), the mark is kept in the store (a restarted process starts from it), and no report is passed
 * over: not one written by another store handle (another replica or process), and not one whose
 * transaction commits after a later one's (PostgreSQL transaction ids commit out of order). On SQLite
 * (a file, two connections) and PostgreSQL (127.0.0.1:5432, a fresh database, two pools and a raw
 * connection holding the slow transaction).
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SCAN_KEY } from '../../../src/gate/gate.js';
import { judgeScan } from '../../../src/gate/judge.js';
import type { Digest } from '../../../src/core/index.js';
import { Monitor } from '../../../src/monitor/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { silentLogger } from '../../helpers/gate.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json'); // adm-zip < 0.4.9, alias CVE-2018-1002204
const CVE = 'CVE-2018-1002204';

/** A raw connection to the store's database that can hold a transaction open. */
interface Raw {
  begin(): Promise<void>;
  exec(sql: string, args: unknown[]): Promise<void>;
  commit(): Promise<void>;
  writeSeqs(): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}

interface Env {
  url: string;
  raw(): Promise<Raw>;
  /** Whether another handle can commit a report while `raw` holds its write (PostgreSQL yes, SQLite's single writer no). */
  concurrentWriters: boolean;
  drop(): Promise<void>;
}

function suite(name: string, env: () => Promise<Env>) {
  describe(`monitor catch-up mark: ${name}`, function () {
    this.timeout(60_000);
    let e: Env;
    let dir: string;
    let db: VulnDb;
    const stores: Store[] = [];
    const policy = defaultPolicy();
    const open = async () => {
      const s = await openStore(e.url);
      stores.push(s);
      return s;
    };
    const monitorOn = (store: Store) => new Monitor({ store, logger: silentLogger, vulndb: () => db, policy: () => policy });
    const put = (store: Store, n: number, version = '0.4.7') => storeImage(store, { repository: `team/app${n}`, tag: `v${n}`, scan: scanOf(digestOf(n), [npmPackage('adm-zip', version)]), db, policy });
    const affected = async (mon: Monitor) => (await mon.affected(CVE, { limit: 1000 })).images.map((i) => i.digest);
    /** Records the mark each staleIndexes call of `store` is given. */
    function spyMarks(store: Store): number[] {
      const marks: number[] = [];
      const orig = store.monitor.staleIndexes.bind(store.monitor);
      store.monitor.staleIndexes = (mark, limit) => {
        marks.push(mark);
        return orig(mark, limit);
      };
      return marks;
    }

    beforeEach(async () => {
      e = await env();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-mark-'));
      db = await buildDb(path.join(dir, 'vulndb.sqlite'), [ADM_ZIP]);
    });
    afterEach(async () => {
      db.close();
      for (const s of stores.splice(0)) await s.close();
      await e.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('a restarted monitor starts from the saved mark: nothing written since, nothing read again', async () => {
      const store = await open();
      for (let n = 1; n <= 6; n++) await put(store, n, n % 3 ? '0.4.7' : '0.4.9');
      const first = monitorOn(store);
      expect(await store.monitor.indexMark(), 'a new store has no mark').to.equal(0);
      expect(await first.catchUp()).to.equal(6);
      const saved = await store.monitor.indexMark();
      expect(saved, 'saved by the catch-up that indexed').to.be.above(0);

      // "restart": a new store handle and monitor over the same database
      const again = await open();
      const marks = spyMarks(again);
      const second = monitorOn(again);
      expect(await affected(second)).to.deep.equal([1, 2, 4, 5].map(digestOf));
      expect(marks, 'the first read starts at the saved mark, not at the first report').to.deep.equal([saved]);
      const { stale } = await again.monitor.staleIndexes(saved, 100);
      expect(stale, 'nothing after the mark is stale').to.deep.equal([]);

      // a report written by another handle after the mark is read and indexed by the next call
      await put(store, 7);
      expect(await affected(second)).to.deep.equal([1, 2, 4, 5, 7].map(digestOf));
      expect(marks[1], 'from the mark it moved to').to.be.at.least(saved);
    });

    it('a report whose transaction commits after a later one is still indexed (and by a restarted monitor too)', async () => {
      const a = await open();
      const b = await open();
      const mon = monitorOn(a);
      await put(b, 1);
      expect(await affected(mon)).to.deep.equal([digestOf(1)]);

      // a slow writer: image 2's scan and report written in a transaction held open
      const scan2 = scanOf(digestOf(2), [npmPackage('adm-zip', '0.4.7')]);
      const report2 = judgeScan(scan2, db, policy, { registry: 'lab', repository: 'team/app2', tag: 'v2' }).report;
      const raw = await e.raw();
      try {
        await raw.begin();
        await raw.exec('INSERT INTO layers (key, body, created_at) VALUES ($1, $2, $3)', [SCAN_KEY(digestOf(2)), JSON.stringify(scan2), Date.now()]);
        await raw.exec('INSERT INTO reports (digest, body, created_at) VALUES ($1, $2, $3)', [digestOf(2), JSON.stringify(report2), Date.now()]);
        // meanwhile another replica stores image 3 and it commits first (PostgreSQL); the monitor catches up
        if (e.concurrentWriters) await put(b, 3);
        const seen = await affected(mon);
        expect(seen, 'the uncommitted report is not seen yet').to.not.include(digestOf(2));
        await raw.commit();
      } finally {
        await raw.close();
      }
      if (!e.concurrentWriters) await put(b, 3);
      const seqs = await raw.writeSeqs();
      if (e.concurrentWriters) expect(seqs.get(digestOf(2))! < seqs.get(digestOf(3))!, 'the slow report has the lower write number: it committed out of order').to.equal(true);

      expect(await affected(mon), 'the slow report, committed last, is indexed').to.deep.equal([1, 2, 3].map(digestOf));
      expect(await mon.catchUp(), 'and nothing is left').to.equal(0);
      // a restarted monitor from the saved mark agrees, and finds nothing stale
      const restarted = monitorOn(await open());
      expect(await affected(restarted)).to.deep.equal([1, 2, 3].map(digestOf));
    });

    it('property: under any interleaving of writers, held transactions, commits and (restarted) monitors, a query sees exactly the committed images', async () => {
      const a = await open();
      const b = await open();
      const committed = new Set<Digest>();
      let next = 1000;
      let mon = monitorOn(a);
      const slots: Array<{ raw: Raw; digests: Digest[] } | undefined> = [undefined, undefined];
      const want = () => [...committed].filter((d) => parseInt(d.slice(7), 16) % 3 !== 0).sort();
      const commit = async (i: number) => {
        const h = slots[i];
        if (!h) return;
        slots[i] = undefined;
        await h.raw.commit();
        await h.raw.close();
        for (const d of h.digests) committed.add(d);
      };
      type Op = { k: 'put'; via: 'a' | 'b' } | { k: 'hold'; slot: 0 | 1 } | { k: 'commit'; slot: 0 | 1 } | { k: 'query'; restart: boolean };
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ k: fc.constant('put' as const), via: fc.constantFrom('a' as const, 'b' as const) }),
        fc.record({ k: fc.constant('hold' as const), slot: fc.constantFrom(0 as const, 1 as const) }),
        fc.record({ k: fc.constant('commit' as const), slot: fc.constantFrom(0 as const, 1 as const) }),
        fc.record({ k: fc.constant('query' as const), restart: fc.boolean() }),
      );
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 10 }), async (ops) => {
            for (const o of [...ops, { k: 'commit', slot: 0 } as Op, { k: 'commit', slot: 1 } as Op, { k: 'query', restart: false } as Op]) {
              if (o.k === 'put') {
                // SQLite's single writer: nobody else writes while a transaction is held
                if (!e.concurrentWriters && slots.some(Boolean)) continue;
                const n = next++;
                await put(o.via === 'a' ? a : b, n, n % 3 ? '0.4.7' : '0.4.9');
                committed.add(digestOf(n));
              } else if (o.k === 'hold') {
                if (!e.concurrentWriters && slots.some((h, i) => h && i !== o.slot)) continue;
                const n = next++;
                const scan = scanOf(digestOf(n), [npmPackage('adm-zip', n % 3 ? '0.4.7' : '0.4.9')]);
                const report = judgeScan(scan, db, policy, { registry: 'lab', repository: `team/app${n}`, tag: `v${n}` }).report;
                let h = slots[o.slot];
                if (!h) {
                  h = { raw: await e.raw(), digests: [] };
                  await h.raw.begin();
                  slots[o.slot] = h;
                }
                await h.raw.exec('INSERT INTO layers (key, body, created_at) VALUES ($1, $2, $3)', [SCAN_KEY(digestOf(n)), JSON.stringify(scan), Date.now()]);
                await h.raw.exec('INSERT INTO reports (digest, body, created_at) VALUES ($1, $2, $3)', [digestOf(n), JSON.stringify(report), Date.now()]);
                h.digests.push(digestOf(n));
              } else if (o.k === 'commit') {
                await commit(o.slot);
              } else {
                // SQLite: the catch-up writes indexes, which waits for a held writer; query once it committed
                if (!e.concurrentWriters && slots.some(Boolean)) continue;
                if (o.restart) mon = monitorOn(o.restart && next % 2 ? a : b);
                expect(await affected(mon), JSON.stringify(ops)).to.deep.equal(want());
              }
            }
          }),
          { numRuns: e.concurrentWriters ? 12 : 25 },
        );
      } finally {
        for (let i = 0; i < slots.length; i++) await slots[i]?.raw.close();
      }
    });

    it('a report stored again (an image judged again) is indexed again from its new write', async () => {
      const store = await open();
      const mon = monitorOn(store);
      await put(store, 1, '0.4.9');
      expect(await affected(mon)).to.deep.equal([]);
      // another handle stores the same digest again, now affected (the report row is updated, not inserted)
      const other = await open();
      await new Promise((r) => setTimeout(r, 2));
      await put(other, 1, '0.4.7');
      expect(await affected(mon)).to.deep.equal([digestOf(1)]);
    });

    it('a saved mark the store cannot have given (a restore into another database) reads from the first report', async () => {
      const store = await open();
      for (let n = 1; n <= 3; n++) await put(store, n);
      await store.monitor.saveIndexMark(Number.MAX_SAFE_INTEGER - 1);
      const restarted = monitorOn(store);
      expect(await affected(restarted)).to.deep.equal([1, 2, 3].map(digestOf));
      expect(await store.monitor.indexMark(), 'replaced by a mark of this store').to.be.below(Number.MAX_SAFE_INTEGER - 1);
    });
  });
}

suite('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-mark-db-'));
  const file = path.join(dir, 'store.db');
  return {
    url: `sqlite:${file}`,
    concurrentWriters: false,
    async raw() {
      const c = new Database(file);
      c.pragma('busy_timeout = 5000');
      const q = (sql: string) => sql.replace(/\$\d+/g, '?');
      return {
        async begin() {
          c.exec('BEGIN IMMEDIATE');
        },
        async exec(sql, args) {
          c.prepare(q(sql)).run(...args);
        },
        async commit() {
          c.exec('COMMIT');
        },
        async writeSeqs() {
          const d = new Database(file, { readonly: true });
          try {
            return new Map((d.prepare('SELECT digest, write_seq FROM reports').all() as Array<{ digest: string; write_seq: number }>).map((r) => [r.digest, BigInt(r.write_seq)]));
          } finally {
            d.close();
          }
        },
        async close() {
          if (c.inTransaction) c.exec('ROLLBACK');
          c.close();
        },
      };
    },
    async drop() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

suite('postgres', async () => {
  const db = await freshDatabase('pushgate_catch_up_mark');
  return {
    url: db.url,
    concurrentWriters: true,
    async raw() {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      let closed = false;
      return {
        async begin() {
          await c.query('BEGIN');
        },
        async exec(sql, args) {
          await c.query(sql, args);
        },
        async commit() {
          await c.query('COMMIT');
        },
        async writeSeqs() {
          const d = new pg.Client({ connectionString: db.url });
          await d.connect();
          try {
            return new Map((await d.query('SELECT digest, write_seq::text AS s FROM reports')).rows.map((r: { digest: string; s: string }) => [r.digest, BigInt(r.s)]));
          } finally {
            await d.end();
          }
        },
        async close() {
          if (!closed) await c.end();
          closed = true;
        },
      };
    },
    drop: db.drop,
  };
});
