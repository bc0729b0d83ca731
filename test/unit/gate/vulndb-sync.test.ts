/**
 * src/gate/vulndb-sync.ts against a real PostgreSQL store and real database files: a copy in the store with any
 * byte changed, or cut short, is refused and the replica keeps its own database and stays held; the intact copy
 * is then fetched and the hold lifted.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { VulnDbHolder } from '../../../src/gate/vulndb-holder.js';
import { VulnDbSync } from '../../../src/gate/vulndb-sync.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { silentLogger } from '../../helpers/gate.js';
import { buildDb, osvRecord } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const LODASH = osvRecord('npm/NSWG-NPM-368.json');
const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json');

function replica(store: Store, file: string, owner: string) {
  const holder = new VulnDbHolder(file, silentLogger);
  const holds: Array<string | undefined> = [];
  const sync = new VulnDbSync({
    store,
    logger: silentLogger,
    path: file,
    owner,
    local: () => {
      const r = holder.readiness();
      return r.ok ? { digest: r.digest, builtAt: r.builtAt } : undefined;
    },
    reload: () => holder.reload(),
    hold: (h) => holds.push(h),
  });
  return { holder, sync, holds };
}

describe('vulndb sync: the copy in the store is checked before it replaces a replica\'s database', function () {
  this.timeout(60_000);
  let dir: string;
  let db: { url: string; drop(): Promise<void> };
  let store: Store;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-vsync-'));
    db = await freshDatabase('pushgate_vsync');
    store = await openStore(db.url);
  });
  after(async () => {
    await store.close();
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('any changed byte or a missing tail is refused; the intact copy is fetched', async () => {
    fs.mkdirSync(path.join(dir, 'a'));
    fs.mkdirSync(path.join(dir, 'b'));
    const old = await buildDb(path.join(dir, 'b', 'vulndb.sqlite'), [LODASH]);
    const oldDigest = old.contentDigest;
    old.close();
    await new Promise((r) => setTimeout(r, 20));
    const nu = await buildDb(path.join(dir, 'a', 'vulndb.sqlite'), [LODASH, ADM_ZIP]);
    const newDigest = nu.contentDigest!;
    nu.close();
    const a = replica(store, path.join(dir, 'a', 'vulndb.sqlite'), 'a');
    await a.sync.reconcile();
    const inForce = (await store.clusterState.get('vulndb'))!;
    expect(inForce.digest).to.equal(newDigest);
    const b = replica(store, path.join(dir, 'b', 'vulndb.sqlite'), 'b');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const chunks = (await c.query('SELECT n, data FROM vulndb_chunks WHERE digest = $1 ORDER BY n', [newDigest])).rows as Array<{ n: number; data: Buffer }>;
      const size = chunks.reduce((s, x) => s + x.data.length, 0);
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: size - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (at, xor, cut) => {
          // the chunk holding byte `at`, changed there (or cut short from there)
          let n = 0;
          let off = at;
          while (off >= chunks[n].data.length) off -= chunks[n++].data.length;
          const bad = Buffer.from(chunks[n].data);
          bad[off] ^= xor;
          await c.query('UPDATE vulndb_chunks SET data = $1 WHERE digest = $2 AND n = $3', [cut ? bad.subarray(0, off) : bad, newDigest, n]);
          try {
            await b.sync.reconcile();
            expect(b.sync.disagreement()).to.include('refused').and.include(String(oldDigest)).and.include(newDigest);
            expect(b.holds.at(-1)).to.equal(b.sync.disagreement());
            expect(b.holder.readiness()).to.deep.include({ ok: true, digest: oldDigest });
            expect(fs.readdirSync(path.join(dir, 'b')).filter((f) => f.includes('.fetch-'))).to.deep.equal([]);
          } finally {
            await c.query('UPDATE vulndb_chunks SET data = $1 WHERE digest = $2 AND n = $3', [chunks[n].data, newDigest, n]);
          }
        }),
        { numRuns: 12 },
      );
      await b.sync.reconcile();
      expect(b.sync.disagreement()).to.equal(undefined);
      expect(b.holds.at(-1)).to.equal(undefined);
      expect(b.holder.readiness()).to.deep.include({ ok: true, digest: newDigest });
    } finally {
      await c.end();
      a.sync.stop();
      b.sync.stop();
    }
  });
});
