/**
 * Migration 24: the index of image_index by database is dropped (no read used it; every write of an
 * image's database moved an entry in it). A store as migration 23 left it, holding indexes under two
 * databases, opens without the index and keeps every image's state; the moves and marks of a pass still
 * move exactly the images they name (those under the database they move from). On both stores.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Digest } from '../../../src/core/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { digestOf } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const OLD = 'sha256:old';
const NEW = 'sha256:new';

/** Indexes of `n` images, the even ones under OLD, the odd ones under NEW. */
async function seed(store: Store, n: number): Promise<Digest[]> {
  const ds = Array.from({ length: n }, (_, i) => digestOf(i + 1));
  await store.monitor.putIndexes(ds.map((digest, i) => ({ digest, vulndbDigest: i % 2 ? NEW : OLD, reportAt: 1, findings: [] })));
  return ds;
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`migration 24: image_index without its index by database (${kind})`, function () {
    this.timeout(60_000);
    const drops: Array<() => Promise<void>> = [];
    after(async () => {
      for (const f of drops) await f();
    });

    /**
     * A store holding `ds` indexed as {@link seed} does, put back to migration 23 (the index there again,
     * version 24 not recorded) and opened again; `indexed` tells whether the index is there.
     */
    async function fromMigration23(): Promise<{ store: Store; ds: Digest[]; indexed: () => Promise<boolean> }> {
      const sql = ['CREATE INDEX IF NOT EXISTS image_index_by_vulndb ON image_index (vulndb_digest)', 'DELETE FROM schema_migrations WHERE version = 24'];
      if (kind === 'sqlite') {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-m24-'));
        drops.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
        const file = path.join(dir, 's.db');
        const s = await openStore(`sqlite:${file}`);
        const ds = await seed(s, 6);
        await s.close();
        const db = new Database(file);
        for (const q of sql) db.prepare(q).run();
        const before = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'image_index_by_vulndb'").get() as { n: number };
        expect(before.n, 'the store as migration 23 left it').to.equal(1);
        db.close();
        const indexed = async () => {
          const c = new Database(file, { readonly: true });
          try {
            return (c.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = 'image_index_by_vulndb'").get() as { n: number }).n > 0;
          } finally {
            c.close();
          }
        };
        return { store: await openStore(`sqlite:${file}`), ds, indexed };
      }
      const fresh = await freshDatabase('pushgate_m24');
      drops.push(fresh.drop);
      const s = await openStore(fresh.url);
      const ds = await seed(s, 6);
      await s.close();
      const query = async (q: string): Promise<pg.QueryResult> => {
        const c = new pg.Client({ connectionString: fresh.url });
        await c.connect();
        try {
          return await c.query(q);
        } finally {
          await c.end();
        }
      };
      for (const q of sql) await query(q);
      const indexed = async () => (await query("SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'image_index_by_vulndb'")).rows[0].n > 0;
      expect(await indexed(), 'the store as migration 23 left it').to.equal(true);
      return { store: await openStore(fresh.url), ds, indexed };
    }

    it('drops the index, keeps every state, and moves and marks only what they name', async () => {
      const { store, ds, indexed } = await fromMigration23();
      try {
        expect(await indexed(), 'index dropped').to.equal(false);
        const want = new Map(ds.map((d, i) => [d, i % 2 ? NEW : OLD]));
        expect(new Map(await store.monitor.indexStates())).to.deep.equal(want);
        // the move names every image but only those under OLD move; the one not named stays
        const moved = await store.monitor.moveIndexes(OLD, 'sha256:next', ds.slice(0, 4));
        expect(moved).to.equal(2);
        want.set(ds[0], 'sha256:next');
        want.set(ds[2], 'sha256:next');
        expect(new Map(await store.monitor.indexStates())).to.deep.equal(want);
      } finally {
        await store.close();
      }
    });
  });
}
