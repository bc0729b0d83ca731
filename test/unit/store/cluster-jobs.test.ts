/**
 * Periodic jobs once per cluster (Store.claimJob / renewJob / finishJob): two stores on one database stand
 * for two replicas. One owner at a time; due again one interval after a pass ends; a dead owner's lease
 * expires and another takes over; a stale owner cannot finish or renew a job taken from it. Property: for
 * any interleaving of claims, renewals and finishes by several owners, at most one owner holds the job.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../../src/store/index.js';
import { scheduleClusterJob } from '../../../src/gate/cluster-jobs.js';
import { freshDatabase } from '../../helpers/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function contract(name: string, open: () => Promise<{ stores: [Store, Store]; done(): Promise<void> }>) {
  describe(`store cluster jobs: ${name}`, function () {
    this.timeout(60_000);
    let a: Store;
    let b: Store;
    let done: () => Promise<void>;
    beforeEach(async () => ({ stores: [a, b], done } = await open()));
    afterEach(() => done());

    it('gives a due job to one owner, and again only one interval after the pass ended', async () => {
      expect(await a.claimJob('reconcile', 'A', 10_000)).to.have.property('startedAt').that.is.a('number');
      expect(await b.claimJob('reconcile', 'B', 10_000)).to.equal(undefined);
      expect(await a.claimJob('reconcile', 'A2', 10_000)).to.equal(undefined);
      expect(await b.finishJob('reconcile', 'B', 0)).to.equal(false); // not B's
      expect(await a.finishJob('reconcile', 'A', 300)).to.equal(true);
      expect(await b.claimJob('reconcile', 'B', 10_000)).to.equal(undefined); // not due yet
      await sleep(350);
      expect(await b.claimJob('reconcile', 'B', 10_000)).to.not.equal(undefined);
      // other jobs are independent
      expect(await a.claimJob('retry-unfinished', 'A', 10_000)).to.not.equal(undefined);
    });

    it('hands a job over when its owner stops renewing, and refuses the stale owner', async () => {
      expect(await a.claimJob('reconcile', 'A', 200)).to.not.equal(undefined);
      expect(await a.renewJob('reconcile', 'A', 200)).to.equal(true);
      await sleep(250);
      expect(await b.claimJob('reconcile', 'B', 10_000)).to.not.equal(undefined);
      expect(await a.renewJob('reconcile', 'A', 10_000)).to.equal(false);
      expect(await a.finishJob('reconcile', 'A', 0)).to.equal(false);
      expect(await b.finishJob('reconcile', 'B', 0)).to.equal(true);
    });

    it('at most one owner holds a job, for any interleaving (property)', async () => {
      const op = fc.record({ who: fc.integer({ min: 0, max: 3 }), kind: fc.constantFrom('claim', 'renew', 'finish') });
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          const job = `p${round++}`;
          const held = new Set<number>();
          for (const o of ops) {
            const s = o.who % 2 ? b : a;
            const owner = `o${o.who}`;
            if (o.kind === 'claim') {
              if (await s.claimJob(job, owner, 60_000)) held.add(o.who);
            } else if (o.kind === 'renew') {
              expect(await s.renewJob(job, owner, 60_000)).to.equal(held.has(o.who));
            } else if (await s.finishJob(job, owner, 0)) {
              expect(held.has(o.who)).to.equal(true);
              held.delete(o.who);
            }
            expect(held.size).to.be.at.most(1);
          }
        }),
        { numRuns: 40 },
      );
    });

    it('scheduleClusterJob: two schedulers run a pass once per interval, never at once', async () => {
      const passes: Array<{ who: string; start: number; end: number }> = [];
      const run = (who: string) => async () => {
        const start = Date.now();
        await sleep(50);
        passes.push({ who, start, end: Date.now() });
      };
      const stops = [
        scheduleClusterJob({ store: a, name: 'sched', intervalMs: 300, checkMs: 20, owner: 'A', run: run('A') }),
        scheduleClusterJob({ store: b, name: 'sched', intervalMs: 300, checkMs: 20, owner: 'B', run: run('B') }),
      ];
      await sleep(1300);
      for (const s of stops) s();
      passes.sort((x, y) => x.start - y.start);
      expect(passes.length).to.be.within(2, 5); // about 1300 / (300 + 50); 2 schedulers without the lease: about twice as many
      for (let i = 1; i < passes.length; i++) expect(passes[i].start - passes[i - 1].end, `gap before pass ${i}`).to.be.at.least(290);
    });
  });
}

contract('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-jobs-'));
  const a = await openStore(`sqlite:${dir}/s.db`);
  const b = await openStore(`sqlite:${dir}/s.db`);
  return {
    stores: [a, b],
    async done() {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

contract('postgres', async () => {
  const db = await freshDatabase('pg_scaleout_jobs');
  const a = await openStore(db.url);
  const b = await openStore(db.url);
  return {
    stores: [a, b],
    async done() {
      await a.close();
      await b.close();
      await db.drop();
    },
  };
});
