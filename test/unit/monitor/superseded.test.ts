/**
 * A push judging an image again while a monitor pass holds that image between its read and its write:
 * the pass reads a chunk, a push (here a replica still on the previous database, the harder case) writes a
 * newer report and verdict for one of its images, then the pass commits. The push's judgement must stand
 * (the pass wrote over it before: its verdict and report patch were older than the push's), the pass
 * writes no change record or audit record for that image, the other images of the batch are written, and
 * the next tick judges the superseded image with the database in force (its newer report is indexed under
 * the push's database, so it is work again). Real stores: SQLite and PostgreSQL.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Verdict } from '../../../src/core/index.js';
import { Monitor } from '../../../src/monitor/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json'); // adm-zip < 0.4.9
const LODASH_OLD = osvRecord('npm/NSWG-NPM-368.json'); // lodash < 4.17.5

function suite(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`monitor (${name}): a push between a pass's read and its write`, function () {
    this.timeout(60_000);
    let store: Store;
    let done: () => Promise<void>;
    let dir: string;
    const dbs: VulnDb[] = [];
    beforeEach(async () => {
      ({ store, done } = await open());
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-superseded-'));
    });
    afterEach(async () => {
      for (const d of dbs.splice(0)) d.close();
      await done();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const [kind, indexedBetween] of [['db', false], ['db', true], ['all', false], ['all', true]] as const) {
      const between = indexedBetween ? ', its report indexed by another replica before the pass ends' : '';
      it(`${kind === 'db' ? 'database pass (patched)' : 'full pass (--all)'}${between}: the push's verdict and report stand, the others are written, the next tick judges it again`, async () => {
        const policy = defaultPolicy();
        const dbPath = path.join(dir, 'vulndb.sqlite');
        const oldDb = await buildDb(dbPath, [ADM_ZIP]);
        dbs.push(oldDb);
        const D = [digestOf(11), digestOf(12), digestOf(13)];
        for (const [i, d] of D.entries()) await storeImage(store, { repository: `team/app${i}`, tag: 'v1', scan: scanOf(d, [npmPackage('lodash', '4.17.4')]), db: oldDb, policy });
        let current = oldDb;
        const T = Date.parse('2030-01-01T00:00:00Z');
        const mon = new Monitor({ store, logger: quiet, vulndb: () => current, policy: () => policy, now: () => T, chunk: 3 });
        expect(await mon.tick(), 'everything indexed under the first database').to.equal(undefined);
        // the replica that pushes keeps the previous database open (its swap is late)
        fs.copyFileSync(dbPath, path.join(dir, 'old.sqlite'));
        const lagging = await VulnDb.open(path.join(dir, 'old.sqlite'));
        dbs.push(lagging);
        current = await buildDb(dbPath, [ADM_ZIP, LODASH_OLD]);
        dbs.push(current);
        oldDb.close();
        dbs.splice(dbs.indexOf(oldDb), 1);

        // The pass reads its chunk; the push lands right after that read, before the batch is written.
        let pushed: { verdict: Verdict; report: unknown } | undefined;
        const m = store.monitor as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        for (const method of ['verdictsWithMarks', 'verdictsOf']) {
          const real = m[method]?.bind(store.monitor);
          if (!real) continue;
          m[method] = async (...a: unknown[]) => {
            const got = await real(...a);
            if (!pushed && (a[0] as Digest[]).includes(D[1])) {
              await storeImage(store, { repository: 'team/app1', tag: 'v2', scan: scanOf(D[1], [npmPackage('lodash', '4.17.4')]), db: lagging, policy });
              pushed = { verdict: (await store.getVerdict('lab', 'team/app1', D[1]))!, report: await store.getReport(D[1]) };
              // another replica's tick (or an affected-images query) indexes the push's report meanwhile
              if (indexedBetween) expect(await new Monitor({ store, logger: quiet, vulndb: () => current, policy: () => policy }).catchUp()).to.equal(1);
            }
            return got;
          };
        }
        const stats = kind === 'db' ? await mon.tick() : await mon.all();
        expect(pushed, 'the push landed between the read and the write').to.not.equal(undefined);
        if (kind === 'db') expect(stats?.patched, 'the database pass patched the images').to.equal(3);
        expect(await store.getVerdict('lab', 'team/app1', D[1]), 'the push\'s verdict stands').to.deep.equal(pushed!.verdict);
        expect(await store.getReport(D[1]), 'the push\'s report stands').to.deep.equal(pushed!.report);
        expect(await store.monitor.listChanges(D[1], 10), 'no change record of the pass for it').to.deep.equal([]);
        expect(await store.listAudit(10, { action: 'monitor:changed', digest: D[1] }), 'no audit record of the pass for it').to.deep.equal([]);
        expect(stats?.superseded, 'one image superseded').to.equal(1);
        expect(stats?.changed, 'change records written').to.equal(2);
        for (const [i, d] of [[0, D[0]], [2, D[2]]] as const) {
          const v = await store.getVerdict('lab', `team/app${i}`, d);
          expect(v?.vulndb.digest, `${d} judged with the new database`).to.equal(current.contentDigest);
          expect((await store.getReport(d))?.findings.map((f) => f.id), `${d} report`).to.deep.equal(['NSWG-NPM-368']);
          expect(await store.monitor.listChanges(d, 10), `${d} change record`).to.have.length(1);
          expect(await store.listAudit(10, { action: 'monitor:changed', digest: d }), `${d} audit record`).to.have.length(1);
        }

        // the superseded image was judged with the previous database: the next tick judges it again
        const next = await mon.tick();
        expect(next?.superseded).to.equal(0);
        const v1 = await store.getVerdict('lab', 'team/app1', D[1]);
        expect(v1?.vulndb.digest, 'judged again with the database in force').to.equal(current.contentDigest);
        expect(v1?.tags, 'the push\'s tag kept').to.deep.equal(['v1', 'v2']);
        expect((await store.getReport(D[1]))?.findings.map((f) => f.id)).to.deep.equal(['NSWG-NPM-368']);
        expect(await store.monitor.listChanges(D[1], 10)).to.have.length(1);
        expect([...(await store.monitor.indexStates()).values()], 'every image indexed under the new database').to.deep.equal([current.contentDigest, current.contentDigest, current.contentDigest]);
      });
    }

    for (const indexedBeforeCrash of [false, true]) {
      it(`database pass killed after the batch that left the pushed image unwritten${indexedBeforeCrash ? ' (its report indexed before the crash)' : ''}: the resumed pass does not mark it judged, the next tick judges it`, async () => {
        const LEASE_MS = 1000;
        const policy = defaultPolicy();
        const dbPath = path.join(dir, 'vulndb.sqlite');
        const oldDb = await buildDb(dbPath, [ADM_ZIP]);
        const D = [digestOf(21), digestOf(22), digestOf(23)];
        for (const [i, d] of D.entries()) await storeImage(store, { repository: `team/app${i}`, tag: 'v1', scan: scanOf(d, [npmPackage('lodash', '4.17.4')]), db: oldDb, policy });
        let current = oldDb;
        let now = Date.now();
        const opts = { store, logger: quiet, vulndb: () => current, policy: () => policy, now: () => now, leaseMs: LEASE_MS, chunk: 1 };
        expect(await new Monitor({ ...opts, owner: 'replica-a' }).tick()).to.equal(undefined);
        fs.copyFileSync(dbPath, path.join(dir, 'old.sqlite'));
        const lagging = await VulnDb.open(path.join(dir, 'old.sqlite'));
        dbs.push(lagging);
        current = await buildDb(dbPath, [ADM_ZIP, LODASH_OLD]);
        dbs.push(current);
        oldDb.close();

        let pushed = false;
        const m = store.monitor as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        for (const method of ['verdictsWithMarks', 'verdictsOf']) {
          const real = m[method]?.bind(store.monitor);
          if (!real) continue;
          m[method] = async (...a: unknown[]) => {
            const got = await real(...a);
            if (!pushed && (a[0] as Digest[]).includes(D[1])) {
              pushed = true;
              await storeImage(store, { repository: 'team/app1', tag: 'v2', scan: scanOf(D[1], [npmPackage('lodash', '4.17.4')]), db: lagging, policy });
              if (indexedBeforeCrash) expect(await new Monitor({ ...opts, owner: 'replica-c' }).catchUp()).to.equal(1);
            }
            return got;
          };
        }
        // one image per batch: the process dies right after the batch that skipped D[1] is written
        let n = 0;
        const crashing = new Monitor({ ...opts, owner: 'replica-a', afterImage: () => {
          if (++n === 2) throw new Error('killed');
        } });
        await crashing.tick().then(() => expect.fail('should have died'), (e: Error) => expect(e.message).to.equal('killed'));
        expect(pushed, 'the push landed between the read and the write').to.equal(true);
        expect((await store.monitor.getRun(`db:${current.contentDigest}`))?.cursor, 'the skipping batch was written').to.equal(D[1]);

        // another replica takes the run over once the lease ends (PostgreSQL: on the database's clock)
        await new Promise((r) => setTimeout(r, LEASE_MS + 100));
        now += LEASE_MS + 100;
        const b = new Monitor({ ...opts, owner: 'replica-b' });
        await b.tick();
        expect((await store.monitor.getRun(`db:${current.contentDigest}`))?.state).to.equal('done');
        expect((await store.getVerdict('lab', 'team/app1', D[1]))?.vulndb.digest, 'the push\'s verdict, made with the previous database, still stands').to.equal(lagging.contentDigest);
        expect((await store.monitor.indexStates()).get(D[1]), 'not marked judged by the new database').to.not.equal(current.contentDigest);

        const next = await b.tick();
        expect(next, 'the next tick has work').to.not.equal(undefined);
        const v1 = await store.getVerdict('lab', 'team/app1', D[1]);
        expect(v1?.vulndb.digest, 'judged again with the database in force').to.equal(current.contentDigest);
        expect((await store.getReport(D[1]))?.findings.map((f) => f.id)).to.deep.equal(['NSWG-NPM-368']);
        expect([...(await store.monitor.indexStates()).values()], 'every image indexed under the new database').to.deep.equal([current.contentDigest, current.contentDigest, current.contentDigest]);
      });
    }
  });
}

suite('sqlite', async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

suite('postgres', async () => {
  const db = await freshDatabase('pushgate_superseded');
  const store = await openStore(db.url);
  return { store, async done() {
    await store.close();
    await db.drop();
  } };
});
