/**
 * The full pass (`pushgate monitor --all`) against a straightforward re-judgement: on generated
 * inventories and database changes, every image's indexed findings, change records and the pass's counts
 * must be what judging each stored scan again with the new database and diffing against the findings
 * indexed before gives, whether the pass read an image's stored findings or only their signature.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Package } from '../../../src/core/index.js';
import { judgeScan } from '../../../src/gate/judge.js';
import { Monitor } from '../../../src/monitor/index.js';
import { diffFindings, findingKey, isEmptyDiff } from '../../../src/monitor/image-index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import type { ImageScan } from '../../../src/scan/engine.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const RECORDS = [
  osvRecord('npm/NSWG-NPM-458.json'), // adm-zip < 0.4.9
  osvRecord('npm/NSWG-NPM-368.json'), // lodash < 4.17.5
  osvRecord('npm/NSWG-NPM-516.json'), // lodash 4.17.15 .. 4.17.19
];
/** In every database (one holds at least one record): bassmaster, which no generated image holds. */
const FILLER = osvRecord('npm/NSWG-NPM-1.json');
const VERSIONS: Array<[string, string]> = [['lodash', '4.17.4'], ['lodash', '4.17.15'], ['lodash', '4.17.21'], ['adm-zip', '0.4.7'], ['adm-zip', '0.4.9'], ['left-pad', '1.3.0']];
const PATHS = ['/app/node_modules', '/srv/b/node_modules'];

const image = fc.uniqueArray(fc.tuple(fc.nat(VERSIONS.length - 1), fc.nat(PATHS.length - 1)), { maxLength: 5, selector: ([v, p]) => `${VERSIONS[v][0]}@${p}` });
const pass = fc.record({
  images: fc.array(image, { minLength: 1, maxLength: 8 }),
  before: fc.subarray(RECORDS),
  after: fc.subarray(RECORDS),
  chunk: fc.integer({ min: 1, max: 4 }),
});

/** Finding rows as the store keeps them: key → body (the first finding of a repeated key). */
function rows(findings: Array<{ key: string; finding: unknown }>): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of findings) if (!m.has(f.key)) m.set(f.key, JSON.stringify(f.finding));
  return m;
}

function suite(name: string, runs: number, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`monitor full pass: ${name}`, function () {
    this.timeout(300_000);
    it('equals judging every stored scan again and diffing against the indexed findings (changed and unchanged images alike)', async () => {
      await fc.assert(
        fc.asyncProperty(pass, async (p) => {
          const { store, done } = await open();
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-full-pass-'));
          let db: VulnDb | undefined;
          try {
            const policy = defaultPolicy();
            db = await buildDb(path.join(dir, 'vulndb.sqlite'), [FILLER, ...p.before]);
            const scans = new Map<Digest, { scan: ImageScan; repository: string }>();
            for (const [i, pkgs] of p.images.entries()) {
              const packages: Package[] = pkgs.map(([v, at]) => npmPackage(VERSIONS[v][0], VERSIONS[v][1], `${PATHS[at]}/${VERSIONS[v][0]}/package.json`));
              const scan = scanOf(digestOf(i + 1), packages);
              scans.set(digestOf(i + 1), { scan, repository: `team/app${i}` });
              await storeImage(store, { repository: `team/app${i}`, tag: 'v1', scan, db, policy });
            }
            const T = Date.now();
            const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, now: () => T, chunk: p.chunk });
            await mon.catchUp();
            const before = new Map<Digest, Awaited<ReturnType<Store['monitor']['findingsOf']>>>();
            for (const d of scans.keys()) before.set(d, await store.monitor.findingsOf(d));
            db.close();
            db = await buildDb(path.join(dir, 'vulndb.sqlite'), [FILLER, ...p.after]);

            const stats = await mon.all();
            let changed = 0;
            for (const [d, { scan, repository }] of scans) {
              const j = judgeScan(scan, db, policy, { registry: 'lab', repository });
              const expected = rows(j.report.findings.map((f) => ({ key: findingKey(f), finding: f })));
              expect(rows(await store.monitor.findingsOf(d)), `indexed findings of ${d}`).to.deep.equal(expected);
              const diff = diffFindings(before.get(d)!.map((f) => f.finding), j.report.findings);
              const records = await store.monitor.listChanges(d, 10);
              if (isEmptyDiff(diff)) {
                expect(records, `no change record for ${d}`).to.deep.equal([]);
              } else {
                changed++;
                expect(records, `one change record for ${d}`).to.have.length(1);
                expect(records[0].new.map((f) => findingKey(f)).sort()).to.deep.equal(diff.new.map((f) => findingKey(f)).sort());
                expect(records[0].resolved.map((f) => findingKey(f)).sort()).to.deep.equal(diff.resolved.map((f) => findingKey(f)).sort());
                expect(records[0].severityChanged).to.deep.equal(diff.severityChanged);
              }
            }
            expect(stats.rejudged).to.equal(scans.size);
            expect(stats.changed).to.equal(changed);
            // printed by `pushgate monitor` and stored with the run: a tenth of a millisecond at most, no float noise
            expect(JSON.stringify(stats.ms)).to.match(/^\d+(\.\d)?$/);

            // again, nothing changed: every image is told apart by its signature, nothing is written
            const again = await mon.all();
            expect(again.changed).to.equal(0);
            for (const [d, { scan, repository }] of scans) {
              const j = judgeScan(scan, db, policy, { registry: 'lab', repository });
              expect(rows(await store.monitor.findingsOf(d))).to.deep.equal(rows(j.report.findings.map((f) => ({ key: findingKey(f), finding: f }))));
              expect(await store.monitor.listChanges(d, 10)).to.have.length(isEmptyDiff(diffFindings(before.get(d)!.map((f) => f.finding), j.report.findings)) ? 0 : 1);
            }
          } finally {
            db?.close();
            await done();
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }),
        { numRuns: runs },
      );
    });
  });
}

suite('sqlite', 25, async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

suite('postgres', 6, async () => {
  const pg = await freshDatabase('pushgate_full_pass');
  const store = await openStore(pg.url);
  return {
    store,
    async done() {
      await store.close();
      await pg.drop();
    },
  };
});
