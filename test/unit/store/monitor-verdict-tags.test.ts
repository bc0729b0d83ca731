/**
 * A monitor batch rewrites a stored verdict keeping its stored tags (a re-judgement knows nothing newer of
 * them), on real SQLite and PostgreSQL: property over generated tag lists (any text, empty, repeated) and
 * verdicts stored without tags. SQLite reads the stored tags alone (`body -> '$.tags'`) rather than the
 * whole stored body: the tags read back must be those the body holds, exactly.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest, Verdict } from '../../../src/core/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { freshDatabase } from '../../helpers/postgres.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;

function verdict(d: Digest, tags: string[] | undefined, label: string): Verdict {
  const v: Verdict = {
    registry: 'reg.example', repository: 'app', digest: d, tags: tags ?? [], decision: 'allow', complete: true, reasons: [], mode: 'enforce',
    policy: { name: 'default', revision: 'r1' }, vulndb: { builtAt: null, digest: null }, evaluatedAt: label,
  };
  if (tags === undefined) delete (v as Partial<Verdict>).tags;
  return v;
}

function suite(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`store (${name}): a monitor batch keeps stored verdict tags`, function () {
    this.timeout(300_000);
    let store: Store;
    let done: () => Promise<void>;
    before(async () => ({ store, done } = await open()));
    after(async () => done?.());

    it('every rewritten verdict carries the tags stored before the batch (property)', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.option(fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 5 }), { nil: undefined }), { minLength: 1, maxLength: 4 }), async (stored) => {
          const base = ++n * 8;
          const ds = stored.map((_, i) => digest(base + i));
          for (let i = 0; i < ds.length; i++) await store.putVerdict(verdict(ds[i], stored[i], 'pushed'));
          const run = { id: `all:${n}`, owner: 'test', leaseMs: 60_000 };
          expect(await store.monitor.claimRun(run.id, 'all', null, run.owner, run.leaseMs, Date.now())).to.not.equal(undefined);
          // the re-judgement names other tags (and none): the stored ones stand
          const rejudged = ds.map((d) => ({ verdicts: [verdict(d, ['from-the-pass'], 'rejudged')], changes: [], audits: [] }));
          expect(await store.monitor.commitBatch({ run: { ...run, cursor: ds[ds.length - 1] }, rejudged, unchanged: [], vulndbDigest: null }, Date.now())).to.not.equal(false);
          for (let i = 0; i < ds.length; i++) {
            const got = await store.getVerdict('reg.example', 'app', ds[i]);
            expect(got?.evaluatedAt).to.equal('rejudged');
            expect(got?.tags).to.deep.equal(stored[i] ?? []);
          }
        }),
        { numRuns: 40 },
      );
    });
  });
}

suite('SQLite', async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

suite('PostgreSQL', async () => {
  const db = await freshDatabase('pushgate_verdict_tags');
  const store = await openStore(db.url);
  return { store, async done() { await store.close(); await db.drop(); } };
});
