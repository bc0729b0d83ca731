/**
 * An image pushed for the first time while a database pass runs, judged by a replica still on the
 * previous database and indexed (another replica's catch-up, an affected-images query) before the pass
 * ends: it was no candidate of the pass (the index did not hold it when the candidates were read), so
 * the pass did not judge it; it must not be marked as judged with the new database, or no later pass
 * ever judges it with that database's advisories.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest } from '../../../src/core/index.js';
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
describe(`monitor (${name}): an image first pushed during a database pass by a replica on the previous database`, function () {
  this.timeout(60_000);
  let store: Store;
  let done: () => Promise<void>;
  let dir: string;
  const dbs: VulnDb[] = [];
  beforeEach(async () => {
    ({ store, done } = await open());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-new-during-pass-'));
  });
  afterEach(async () => {
    for (const d of dbs.splice(0)) d.close();
    await done();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('indexed before the pass ends: not marked judged with the new database; the next tick judges it', async () => {
    const policy = defaultPolicy();
    const dbPath = path.join(dir, 'vulndb.sqlite');
    const oldDb = await buildDb(dbPath, [ADM_ZIP]);
    const D = [digestOf(41), digestOf(42)];
    const NEW: Digest = digestOf(49);
    for (const [i, d] of D.entries()) await storeImage(store, { repository: `team/app${i}`, tag: 'v1', scan: scanOf(d, [npmPackage('lodash', '4.17.4')]), db: oldDb, policy });
    let current = oldDb;
    const T = Date.parse('2030-01-01T00:00:00Z');
    const mon = new Monitor({ store, logger: quiet, vulndb: () => current, policy: () => policy, now: () => T, chunk: 1 });
    expect(await mon.tick(), 'everything indexed under the first database').to.equal(undefined);
    // the replica that judges pushes keeps the previous database open (its swap is late)
    fs.copyFileSync(dbPath, path.join(dir, 'old.sqlite'));
    const lagging = await VulnDb.open(path.join(dir, 'old.sqlite'));
    dbs.push(lagging);
    oldDb.close();
    current = await buildDb(dbPath, [ADM_ZIP, LODASH_OLD]);
    dbs.push(current);

    // right after the pass reads its first chunk, a new image lands and another replica indexes it
    let landed = false;
    const m = store.monitor as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const method of ['verdictsWithMarks', 'verdictsOf']) {
      const real = m[method]?.bind(store.monitor);
      if (!real) continue;
      m[method] = async (...a: unknown[]) => {
        const got = await real(...a);
        if (!landed) {
          landed = true;
          await storeImage(store, { repository: 'team/new', tag: 'v1', scan: scanOf(NEW, [npmPackage('lodash', '4.17.4')]), db: lagging, policy });
          expect(await new Monitor({ store, logger: quiet, vulndb: () => current, policy: () => policy }).catchUp()).to.equal(1);
        }
        return got;
      };
    }
    await mon.tick();
    expect(landed, 'the push landed during the pass').to.equal(true);
    await mon.tick();
    const v = await store.getVerdict('lab', 'team/new', NEW);
    const state = (await store.monitor.indexStates()).get(NEW);
    // Either judged with the database in force, or still indexed as work for a later pass.
    expect(v?.vulndb.digest === current.contentDigest || state !== current.contentDigest,
      `verdict made with ${v?.vulndb.digest?.slice(0, 19)}, index says ${state?.slice(0, 19)}, database in force ${current.contentDigest?.slice(0, 19)}`).to.equal(true);
    expect((await store.getReport(NEW))?.findings.map((f) => f.id), 'the new database\'s advisory').to.include('NSWG-NPM-368');
    // and then there is nothing more to do: no pass after pass for the same database
    expect([...(await store.monitor.indexStates()).values()].every((x) => x === current.contentDigest), 'every image at the database in force').to.equal(true);
    expect(await mon.tick(), 'no further pass').to.equal(undefined);
    expect(await mon.tick(), 'nor after that').to.equal(undefined);
  });
});
}

suite('sqlite', async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

suite('postgres', async () => {
  const db = await freshDatabase('pushgate_new_during_pass');
  const store = await openStore(db.url);
  return { store, async done() {
    await store.close();
    await db.drop();
  } };
});
