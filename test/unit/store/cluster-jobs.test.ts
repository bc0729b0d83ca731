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

describe('store cluster jobs: a clock set back after a lease or a pass end', function () {
  this.timeout(60_000);
  /** Each engine with a way to set its clock back `ms` (SQLite: the process clock; PostgreSQL: every time the job row holds moved forward, which is the same to the row). */
  const engines: Array<[string, () => Promise<{ a: Store; b: Store; stepBack(ms: number): Promise<void>; done(): Promise<void> }>]> = [
    ['sqlite', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-jobs-clock-'));
      const a = await openStore(`sqlite:${dir}/s.db`);
      const b = await openStore(`sqlite:${dir}/s.db`);
      const realNow = Date.now;
      return {
        a, b,
        async stepBack(ms) {
          Date.now = () => realNow() - ms;
        },
        async done() {
          Date.now = realNow;
          await a.close();
          await b.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    }],
    ['postgres', async () => {
      const db = await freshDatabase('pg_jobs_clock');
      const a = await openStore(db.url);
      const b = await openStore(db.url);
      const { default: pg } = await import('pg');
      return {
        a, b,
        async stepBack(ms) {
          const c = new pg.Client({ connectionString: db.url });
          await c.connect();
          // put_at is moved too where the schema has it (a store without it has nothing else to move).
          const cols = (await c.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'cluster_jobs' AND column_name = 'put_at'`)).rowCount;
          await c.query(`UPDATE cluster_jobs SET lease_until = CASE WHEN lease_until > 0 THEN lease_until + $1 ELSE 0 END, due_at = CASE WHEN due_at > 0 THEN due_at + $1 ELSE 0 END${cols ? ', put_at = put_at + $1' : ''}`, [ms]);
          await c.end();
        },
        async done() {
          await a.close();
          await b.close();
          await db.drop();
        },
      };
    }],
  ];
  for (const [name, open] of engines) {
    it(`${name}: a dead owner's lock is taken over at once after the clock is set back an hour; a short step leaves a live owner's lease alone; a pass end set back is due`, async () => {
      const e = await open();
      try {
        expect(await e.a.claimJob('quarantine-copy:lab/quarantine', 'A', 30_000)).to.not.equal(undefined);
        expect(await e.a.claimJob('reconcile', 'A', 30_000)).to.not.equal(undefined);
        expect(await e.a.finishJob('reconcile', 'A', 60_000)).to.equal(true);
        await e.stepBack(10_000);
        expect(await e.b.claimJob('quarantine-copy:lab/quarantine', 'B', 30_000), 'a step shorter than the lease: the owner keeps it').to.equal(undefined);
        await e.stepBack(3_600_000);
        // A (SIGKILLed) never renews: its lock must not look held for the hour the clock went back.
        expect(await e.b.claimJob('quarantine-copy:lab/quarantine', 'B', 30_000), 'the dead owner\'s lock').to.not.equal(undefined);
        expect(await e.b.claimJob('reconcile', 'B', 30_000), 'the pass due a minute after the last one ended').to.not.equal(undefined);
      } finally {
        await e.done();
      }
    });
  }
});
