/**
 * The event queue's contract on both stores: per-tag order (one event of a (registry, repository, tag)
 * at a time, in sequence order), only the lease owner completes or retries, leases on the database's
 * clock, `blocked-on-registry` waits and resumes, the migration that moves events parked as `failed`
 * by earlier versions to `blocked-on-registry`. A property test drives random interleavings of
 * claims, completions, retries, parks and resumes by several workers against a real store.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { PushEvent } from '../../../src/core/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { CLAIM_SQLITE } from '../../../src/store/sqlite-store.js';
import { freshDatabase } from '../../helpers/postgres.js';

const D = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function ev(id: string, over: Partial<PushEvent> = {}): PushEvent {
  return { id, source: 'distribution', registry: 'lab', action: 'push', repository: 'team/app', digest: D(1), tag: 'v1', ...over };
}

interface Opened {
  store: Store;
  /** Runs raw SQL on the same database (fault and migration set-up). */
  sql(q: string): Promise<void>;
  done(): Promise<void>;
}

function queueContract(name: string, open: () => Promise<Opened>) {
  describe(`store queue: ${name}`, function () {
    this.timeout(60_000);
    let o: Opened;
    beforeEach(async () => (o = await open()));
    afterEach(async () => o.done());

    it('hands out the events of one tag one at a time, in order; other tags and untagged events are not held', async () => {
      const { store } = o;
      const a1 = await store.enqueue(ev('a1', { digest: D(1) }));
      const a2 = await store.enqueue(ev('a2', { digest: D(2) }));
      const b1 = await store.enqueue(ev('b1', { digest: D(3), tag: 'v2' }));
      const other = await store.enqueue(ev('o1', { digest: D(4), repository: 'team/other' }));
      const bare = await store.enqueue(ev('n1', { digest: D(5), tag: undefined }));
      const bare2 = await store.enqueue(ev('n2', { digest: D(6), tag: undefined }));
      const got = [];
      for (;;) {
        const c = await store.claim(`w${got.length}`, 60_000);
        if (!c) break;
        got.push(c.seq);
      }
      expect(got).to.deep.equal([a1.seq, b1.seq, other.seq, bare.seq, bare2.seq]);
      expect(await store.complete(a1.seq, 'w0')).to.equal(true);
      expect((await store.claim('w9', 60_000))?.seq).to.equal(a2.seq);
    });

    it('an earlier event of the tag that is retrying later or blocked on its registry holds the later ones back', async () => {
      const { store } = o;
      const a1 = await store.enqueue(ev('a1'));
      const a2 = await store.enqueue(ev('a2', { digest: D(2) }));
      await store.claim('w', 60_000);
      await store.retry(a1.seq, 'w', { error: 'down', retryInMs: 60_000 });
      expect(await store.claim('w', 60_000)).to.equal(undefined);
      await store.retry((await forceDue(o, a1.seq, store))!, 'w', { error: 'down', retryInMs: 0, state: 'blocked-on-registry' });
      expect(await store.claim('w', 60_000)).to.equal(undefined);
      expect(await store.queueCounts()).to.include({ queued: 1, 'blocked-on-registry': 1 });
      expect(await store.blockedRegistries()).to.deep.equal(['lab']);
      expect(await store.resumeBlocked('other-registry')).to.equal(0);
      expect(await store.resumeBlocked('lab')).to.equal(1);
      const again = await store.claim('w2', 60_000);
      expect(again?.seq).to.equal(a1.seq);
      expect(again?.attempts, 'a resumed event has a fresh retry budget').to.equal(1);
      await store.complete(a1.seq, 'w2');
      expect((await store.claim('w3', 60_000))?.seq).to.equal(a2.seq);
    });

    it('a parked event held for later is not resumed before its time', async () => {
      const { store } = o;
      const a = await store.enqueue(ev('a1'));
      await store.claim('w', 60_000);
      await store.retry(a.seq, 'w', { error: 'enforcement refused', retryInMs: 60_000, state: 'blocked-on-registry' });
      expect(await store.resumeBlocked('lab')).to.equal(0);
      expect(await store.blockedRegistries()).to.deep.equal(['lab']);
    });

    it('only the lease owner completes or retries: a stale worker is refused and writes nothing', async () => {
      const { store } = o;
      const a = await store.enqueue(ev('a1'));
      await store.claim('stale', 1);
      await new Promise((r) => setTimeout(r, 20));
      const c2 = await store.claim('fresh', 60_000);
      expect(c2?.seq).to.equal(a.seq);
      expect(await store.complete(a.seq, 'stale', { actor: 'pushgate', action: 'verdict:allow', repository: 'team/app' })).to.equal(false);
      expect(await store.retry(a.seq, 'stale', { error: 'x', retryInMs: 0 })).to.equal(false);
      expect(await store.listAudit(10, { action: 'verdict:allow' })).to.have.length(0);
      expect(await store.queueCounts()).to.include({ running: 1 });
      expect(await store.complete(a.seq, 'fresh', { actor: 'pushgate', action: 'verdict:allow', repository: 'team/app' })).to.equal(true);
      expect(await store.listAudit(10, { action: 'verdict:allow' })).to.have.length(1);
      expect(await store.complete(a.seq, 'fresh')).to.equal(false, 'a done event is not completed twice');
    });

    it('a store failure refunds the attempt', async () => {
      const { store } = o;
      const a = await store.enqueue(ev('a1'));
      await store.claim('w', 60_000);
      await store.retry(a.seq, 'w', { error: 'store down', retryInMs: 0, refund: true });
      expect((await store.claim('w', 60_000))?.attempts).to.equal(1);
    });

    it('a hand-back for the tag link is counted with the event; other retries, refunds, parks and resumes leave the count', async () => {
      const { store } = o;
      const a = await store.enqueue(ev('h1'));
      expect((await store.claim('w', 60_000))?.linkHandBacks, 'a new event').to.equal(0);
      for (let i = 1; i <= 3; i++) {
        expect(await store.retry(a.seq, 'w', { error: 'not linked yet', retryInMs: 0, refund: true, linkHandBack: true })).to.equal(true);
        const c = await store.claim('w', 60_000);
        expect(c?.linkHandBacks).to.equal(i);
        expect(c?.attempts, 'the hand-back refunds the attempt').to.equal(1);
      }
      await store.retry(a.seq, 'w', { error: 'registry down', retryInMs: 0 });
      await store.claim('w', 60_000);
      await store.retry(a.seq, 'w', { error: 'store down', retryInMs: 0, refund: true });
      await store.claim('w', 60_000);
      await store.retry(a.seq, 'w', { error: 'parked', retryInMs: 0, state: 'blocked-on-registry' });
      expect(await store.resumeBlocked('lab')).to.equal(1);
      const c = await store.claim('w', 60_000);
      expect(c?.linkHandBacks, 'kept: the wait it bounds is over as it was').to.equal(3);
      expect(c?.attempts, 'a resumed event has a fresh retry budget').to.equal(1);
      // a stale worker's hand-back writes nothing
      expect(await store.retry(a.seq, 'stale', { error: 'x', retryInMs: 0, linkHandBack: true })).to.equal(false);
      await store.retry(a.seq, 'w', { error: 'x', retryInMs: 0 });
      expect((await store.claim('w', 60_000))?.linkHandBacks).to.equal(3);
    });

    it('property: under any interleaving of workers, a tag never has two running events and its events finish in order', async () => {
      const tags = ['a', 'b', 'c'];
      type Op = { kind: 'claim' | 'complete' | 'retry' | 'park' | 'resume' | 'fail'; worker: number; pick: number };
      const op = fc.record({ kind: fc.constantFrom<Op['kind']>('claim', 'claim', 'complete', 'complete', 'retry', 'park', 'resume', 'fail'), worker: fc.nat(3), pick: fc.nat(10) });
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(fc.constantFrom(...tags), { minLength: 1, maxLength: 12 }), fc.array(op, { maxLength: 40 }), async (pushes, ops) => {
          round++;
          const { store } = o;
          const repo = `team/p${round}`;
          const seqs = new Map<number, string>();
          for (const [i, t] of pushes.entries()) seqs.set((await store.enqueueMany([ev(`r${round}-${i}`, { repository: repo, tag: t, digest: D(i) })]))[0].seq, t);
          const running = new Map<number, { seq: number; tag: string }>();
          const finished: Array<{ seq: number; tag: string }> = [];
          const drop = (w: number) => running.delete(w);
          for (const s of ops) {
            const held = running.get(s.worker);
            if (s.kind === 'claim' && !held) {
              const c = await store.claim(`w${s.worker}`, 60_000);
              if (c && c.event.repository === repo) {
                for (const r of running.values()) expect(r.tag, 'two running events of one tag').to.not.equal(c.event.tag);
                running.set(s.worker, { seq: c.seq, tag: c.event.tag! });
              } else if (c) await store.complete(c.seq, `w${s.worker}`);
            } else if (held && s.kind === 'complete') {
              expect(await store.complete(held.seq, `w${s.worker}`)).to.equal(true);
              finished.push(held);
              drop(s.worker);
            } else if (held && (s.kind === 'retry' || s.kind === 'park' || s.kind === 'fail')) {
              const state = s.kind === 'retry' ? 'queued' : s.kind === 'park' ? 'blocked-on-registry' : 'failed';
              expect(await store.retry(held.seq, `w${s.worker}`, { error: 'x', retryInMs: 0, state })).to.equal(true);
              drop(s.worker);
            } else if (s.kind === 'resume') {
              await store.resumeBlocked('lab');
            }
          }
          // Finish everything: resume, claim, complete until the queue is empty.
          for (const [w, r] of running) {
            await store.complete(r.seq, `w${w}`);
            finished.push(r);
          }
          for (let guard = 0; guard < 200; guard++) {
            await store.resumeBlocked('lab');
            const c = await store.claim('drain', 60_000);
            if (!c) break;
            await store.complete(c.seq, 'drain');
            if (c.event.repository === repo) finished.push({ seq: c.seq, tag: c.event.tag! });
          }
          for (const t of tags) {
            const order = finished.filter((f) => f.tag === t).map((f) => f.seq);
            expect(order, `events of tag ${t} finish in order`).to.deep.equal([...order].sort((x, y) => x - y));
          }
          // Every event ended (done or failed): nothing is left open.
          const counts = await store.queueCounts();
          expect(counts.queued + counts.running + counts['blocked-on-registry']).to.equal(0);
        }),
        { numRuns: 25 },
      );
    });

    it('property: a claim takes the oldest event that is due or whose lease expired, unless an earlier event of its tag is open', async () => {
      type State = 'queued-due' | 'queued-later' | 'running-expired' | 'running-held' | 'blocked' | 'done' | 'failed';
      const row = fc.record({
        tag: fc.constantFrom<string | undefined>('a', 'b', 'c', undefined),
        state: fc.constantFrom<State>('queued-due', 'queued-later', 'running-expired', 'running-held', 'blocked', 'done', 'failed'),
      });
      let round = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 14 }), async (rows) => {
          round++;
          const { store } = o;
          // Each run in its own repository; what earlier runs left is finished first so only this run's events are claimable.
          for (let c = await store.claim('sweep', 60_000); c; c = await store.claim('sweep', 60_000)) await store.complete(c.seq, 'sweep');
          const repo = `team/c${round}`;
          const seqs: number[] = [];
          for (const [i, r] of rows.entries()) seqs.push((await store.enqueue(ev(`c${round}-${i}`, { repository: repo, tag: r.tag, digest: D(i) }))).seq);
          // Times an hour away from now on either side: the same on the SQLite (process) and PostgreSQL (database) clock.
          const past = Date.now() - 3_600_000;
          const future = Date.now() + 3_600_000;
          const set: Record<State, string> = {
            'queued-due': `status = 'queued', due_at = ${past}`,
            'queued-later': `status = 'queued', due_at = ${future}`,
            'running-expired': `status = 'running', worker = 'gone', lease_until = ${past}`,
            'running-held': `status = 'running', worker = 'busy', lease_until = ${future}`,
            blocked: `status = 'blocked-on-registry', due_at = ${future}`,
            done: `status = 'done'`,
            failed: `status = 'failed'`,
          };
          for (const [i, r] of rows.entries()) await o.sql(`UPDATE events SET ${set[r.state]} WHERE seq = ${seqs[i]}`);
          const open = (s: State) => s !== 'done' && s !== 'failed';
          const expected = rows.findIndex(
            (r, i) => (r.state === 'queued-due' || r.state === 'running-expired') && (r.tag === undefined || !rows.slice(0, i).some((p) => p.tag === r.tag && open(p.state))),
          );
          const got = await store.claim('w', 60_000);
          expect(got?.seq).to.equal(expected < 0 ? undefined : seqs[expected]);
          if (got) expect(await store.complete(got.seq, 'w')).to.equal(true);
          // Every other event of this run is closed so the next run starts from an empty queue.
          await o.sql(`UPDATE events SET status = 'done' WHERE repository = '${repo}'`);
        }),
        { numRuns: 40 },
      );
    });

    it('property: a clock set back after an event was put back or claimed holds it (and its tag) no longer than its own wait or lease', async () => {
      // The store's clock stepped back `step` ms since the writes is, for the rows, the same as those writes having
      // been made `step` ms later: every time written is moved forward by the step (the same on the SQLite
      // process clock and the PostgreSQL database clock).
      let round = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 3 * 3_600_000 }),
          fc.integer({ min: 10_000, max: 600_000 }),
          fc.integer({ min: 0, max: 600_000 }),
          async (step, leaseMs, waitMs) => {
            round++;
            const { store } = o;
            for (let c = await store.claim('sweep', 60_000); c; c = await store.claim('sweep', 60_000)) await store.complete(c.seq, 'sweep');
            const repo = `team/step${round}`;
            // One event put back for waitMs, one claimed by a worker that then died (its lease never renewed),
            // one blocked on its registry for waitMs; each with a later event of its tag behind it.
            const dead = (await store.enqueue(ev(`s${round}-dead`, { repository: repo, tag: 'dead', digest: D(3) }))).seq;
            await store.enqueue(ev(`s${round}-dead-next`, { repository: repo, tag: 'dead', digest: D(4) }));
            expect((await store.claim('killed', leaseMs))?.seq).to.equal(dead);
            const put = (await store.enqueue(ev(`s${round}-put`, { repository: repo, tag: 'put', digest: D(1) }))).seq;
            await store.enqueue(ev(`s${round}-put-next`, { repository: repo, tag: 'put', digest: D(2) }));
            expect((await store.claim('w', leaseMs))?.seq).to.equal(put);
            expect(await store.retry(put, 'w', { error: 'transient', retryInMs: waitMs })).to.equal(true);
            await o.sql(`UPDATE events SET due_at = due_at + ${step}, lease_until = CASE WHEN lease_until > 0 THEN lease_until + ${step} ELSE 0 END, put_at = put_at + ${step} WHERE repository = '${repo}'`);
            const claimed = new Set<number>();
            for (let c = await store.claim('after', 60_000); c; c = await store.claim('after', 60_000)) claimed.add(c.seq);
            // Set back further than the wait (plus a second for the test's own time): the put-back event is due now.
            if (step > waitMs + 1000) expect(claimed.has(put), `put back for ${waitMs} ms, clock set back ${step} ms`).to.equal(true);
            // Not set back, and a wait of seconds: it still waits.
            if (step === 0 && waitMs >= 5000) expect(claimed.has(put)).to.equal(false);
            // Set back further than twice the lease: the dead worker's event is claimed again now.
            if (step > 2 * leaseMs + 1000) expect(claimed.has(dead), `lease ${leaseMs} ms, clock set back ${step} ms`).to.equal(true);
            // Set back less than the lease: a live worker (renewing every third of its lease) keeps its event.
            if (step < leaseMs / 2) expect(claimed.has(dead), `lease ${leaseMs} ms, clock set back ${step} ms`).to.equal(false);
            await o.sql(`UPDATE events SET status = 'done' WHERE repository = '${repo}'`);
          },
        ),
        { numRuns: 40, examples: [[3_600_000, 30_000, 1000], [0, 30_000, 60_000], [10_000, 30_000, 60_000]] },
      );
    });

    it('a clock set back after an event was parked on its registry: the registry answering resumes it at once', async () => {
      const { store } = o;
      const { seq } = await store.enqueue(ev('parked'));
      expect((await store.claim('w', 60_000))?.seq).to.equal(seq);
      expect(await store.retry(seq, 'w', { error: 'registry down', retryInMs: 1000, state: 'blocked-on-registry' })).to.equal(true);
      await o.sql(`UPDATE events SET due_at = due_at + 3600000, put_at = put_at + 3600000 WHERE seq = ${seq}`);
      expect(await store.resumeBlocked('lab')).to.equal(1);
      expect((await store.claim('w2', 60_000))?.seq).to.equal(seq);
    });
  });
}

/** Makes a queued event due now and claims it (stands in for waiting out its backoff); returns its seq. */
async function forceDue(o: Opened, seq: number, store: Store): Promise<number | undefined> {
  await o.sql(`UPDATE events SET due_at = 0 WHERE seq = ${seq}`);
  return (await store.claim('w', 60_000))?.seq;
}

queueContract('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-queue-'));
  const file = path.join(dir, 'q.db');
  const store = await openStore(`sqlite:${file}`);
  return {
    store,
    sql: async (q) => {
      const db = new Database(file);
      db.pragma('busy_timeout = 5000');
      db.exec(q);
      db.close();
    },
    done: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

queueContract('postgres', async () => {
  const db = await freshDatabase('pushgate_queue');
  const store = await openStore(db.url);
  return {
    store,
    sql: async (q) => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(q);
      await c.end();
    },
    done: async () => {
      await store.close();
      await db.drop();
    },
  };
});

describe('store queue: a claim walks the backlog in order instead of sorting it (sqlite)', () => {
  it('both claim queries use the (status, seq) index and no temporary sort, whatever the backlog', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-claim-plan-'));
    const file = path.join(dir, 'q.db');
    const store = await openStore(`sqlite:${file}`);
    try {
      await store.enqueueMany(Array.from({ length: 200 }, (_, i) => ev(`p${i}`, { tag: `t${i % 7}`, digest: D(i) })));
      const db = new Database(file, { readonly: true });
      try {
        for (const [name, sql] of Object.entries(CLAIM_SQLITE)) {
          const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ now: Date.now() }) as Array<{ detail: string }>).map((r) => r.detail);
          expect(plan.join(' | '), name).to.match(/USING INDEX events_status_seq \(status=\?\)/);
          expect(plan.join(' | '), name).to.not.match(/TEMP B-TREE/);
        }
      } finally {
        db.close();
      }
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('store queue: leases on the database clock (postgres)', function () {
  this.timeout(30_000);
  it('a worker whose clock is 10 minutes behind still holds its lease: another replica cannot claim the event', async () => {
    const db = await freshDatabase('pushgate_clock');
    const a = await openStore(db.url);
    const b = await openStore(db.url);
    const realNow = Date.now;
    try {
      await a.enqueue(ev('e1'));
      Date.now = () => realNow() - 10 * 60_000;
      const c = await a.claim('behind', 60_000);
      Date.now = realNow;
      expect(c).to.not.equal(undefined);
      expect(await b.claim('other', 60_000), 'the lease of a slow-clocked worker is not taken').to.equal(undefined);
      // and a due time set by a fast-clocked process is not in the future for the database
      Date.now = () => realNow() + 10 * 60_000;
      await a.enqueue(ev('e2', { tag: 'v2' }));
      Date.now = realNow;
      expect((await b.claim('other', 60_000))?.event.id).to.equal('e2');
    } finally {
      Date.now = realNow;
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});

describe('store queue: the SQLite process clock set back an hour', function () {
  this.timeout(30_000);
  it('an event put back for a second, and one whose worker died, are claimed again at once, not an hour later', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-clock-step-'));
    const store = await openStore(`sqlite:${path.join(dir, 'q.db')}`);
    const realNow = Date.now;
    try {
      const put = (await store.enqueue(ev('put', { tag: 'put' }))).seq;
      const dead = (await store.enqueue(ev('dead', { tag: 'dead', digest: D(2) }))).seq;
      expect((await store.claim('w', 30_000))?.seq).to.equal(put);
      expect((await store.claim('killed', 30_000))?.seq).to.equal(dead);
      expect(await store.retry(put, 'w', { error: 'transient', retryInMs: 1000 })).to.equal(true);
      // The host's clock is stepped back an hour (the process goes on; so does its store).
      Date.now = () => realNow() - 3_600_000;
      const got = [(await store.claim('after', 30_000))?.seq, (await store.claim('after', 30_000))?.seq];
      expect(got.sort()).to.deep.equal([put, dead].sort());
    } finally {
      Date.now = realNow;
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('store queue: migration 22, the count of tag-link hand-backs', function () {
  this.timeout(30_000);
  /** A store holding one queued event as a version-21 store did (no count), opened again; `restart` opens it once more. */
  async function scenario(open: () => Promise<Store>, sql: (q: string) => Promise<void>): Promise<void> {
    const s = await open();
    const { seq } = await s.enqueue(ev('before-22'));
    await s.close();
    await sql(`ALTER TABLE events DROP COLUMN link_hand_backs; DELETE FROM schema_migrations WHERE version = 22`);
    const s2 = await open();
    try {
      const c = await s2.claim('w', 60_000);
      expect(c?.seq).to.equal(seq);
      expect(c?.linkHandBacks, 'an event queued before the migration starts at 0').to.equal(0);
      await s2.retry(seq, 'w', { error: 'not linked yet', retryInMs: 0, refund: true, linkHandBack: true });
      await s2.retry(seq, 'w', { error: 'x', retryInMs: 0 });
    } finally {
      await s2.close();
    }
    // a restart keeps the count: it is in the store, not the process
    const s3 = await open();
    try {
      expect((await s3.claim('w2', 60_000))?.linkHandBacks).to.equal(1);
    } finally {
      await s3.close();
    }
  }

  it('sqlite: an event queued before it is counted from 0, and the count survives a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-mig22-'));
    const file = path.join(dir, 'm.db');
    try {
      await scenario(
        () => openStore(`sqlite:${file}`),
        async (q) => {
          const db = new Database(file);
          db.exec(q);
          db.close();
        },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('postgres: the same', async () => {
    const db = await freshDatabase('pushgate_mig22');
    try {
      await scenario(
        () => openStore(db.url),
        async (q) => {
          const c = new pg.Client({ connectionString: db.url });
          await c.connect();
          await c.query(q);
          await c.end();
        },
      );
    } finally {
      await db.drop();
    }
  });
});

describe('store queue: migration of events parked as failed by earlier versions', () => {
  it('sqlite: a version-3 database with a failed event gets it back as blocked-on-registry', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-mig-'));
    const file = path.join(dir, 'm.db');
    try {
      const s = await openStore(`sqlite:${file}`);
      await s.enqueue(ev('old'));
      await s.close();
      const db = new Database(file);
      db.exec(`DELETE FROM schema_migrations WHERE name = 'queue-blocked-on-registry-tag-order'; UPDATE events SET status = 'failed', attempts = 10`);
      db.close();
      const s2 = await openStore(`sqlite:${file}`);
      expect(await s2.queueCounts()).to.include({ 'blocked-on-registry': 1, failed: 0 });
      expect(await s2.resumeBlocked('lab')).to.equal(1);
      expect((await s2.claim('w', 60_000))?.attempts).to.equal(1);
      await s2.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('postgres: the same', async () => {
    const db = await freshDatabase('pushgate_mig');
    try {
      const s = await openStore(db.url);
      await s.enqueue(ev('old'));
      await s.close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(`DELETE FROM schema_migrations WHERE name = 'queue-blocked-on-registry-tag-order'; UPDATE events SET status = 'failed', attempts = 10`);
      await c.end();
      const s2 = await openStore(db.url);
      expect(await s2.queueCounts()).to.include({ 'blocked-on-registry': 1, failed: 0 });
      await s2.close();
    } finally {
      await db.drop();
    }
  });
});
