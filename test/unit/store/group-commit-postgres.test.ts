/**
 * Group commit of concurrent enqueues on PostgreSQL (as on SQLite): events queued by concurrent calls are
 * written in a few shared transactions (rows inserted by one transaction share its `xmin`), each call
 * resolves with its own results, a sender's duplicate across concurrent calls is inserted once, and a
 * group that cannot be written (an event the database refuses) fails alone.
 */
import { expect } from 'chai';
import pg from 'pg';
import type { PushEvent } from '../../../src/core/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { freshDatabase } from '../../helpers/postgres.js';

const D = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
const ev = (id: string, over: Partial<PushEvent> = {}): PushEvent => ({ id, source: 'distribution', registry: 'lab', action: 'push', repository: 'team/app', digest: D(1), tag: 'v1', ...over });

describe('store: group commit of concurrent enqueues (postgres)', function () {
  this.timeout(30_000);
  let db: { url: string; drop(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    db = await freshDatabase('pg_scaleout_gc');
    store = await openStore(db.url);
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  async function transactions(): Promise<number> {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return Number((await c.query('SELECT COUNT(DISTINCT xmin::text) AS n FROM events')).rows[0].n);
    } finally {
      await c.end();
    }
  }

  it('200 concurrent enqueues share a few transactions; each resolves with its own seq', async () => {
    const r = await Promise.all(Array.from({ length: 200 }, (_, i) => store.enqueue(ev(`e${i}`, { digest: D(i), tag: `t${i}` }))));
    expect(r.every((x) => x.inserted)).to.equal(true);
    expect(new Set(r.map((x) => x.seq)).size).to.equal(200);
    expect(await store.queueDepth()).to.equal(200);
    expect(await transactions()).to.be.at.most(20);
  });

  it('a duplicate across concurrent calls is inserted once; envelopes keep their order', async () => {
    const [a, b, c] = await Promise.all([store.enqueueMany([ev('x'), ev('y', { digest: D(2) })]), store.enqueue(ev('x')), store.enqueueMany([ev('z', { digest: D(3) })])]);
    expect(a.map((x) => x.inserted)).to.deep.equal([true, true]);
    expect(b).to.deep.equal({ inserted: false, seq: a[0].seq });
    expect(c[0].inserted).to.equal(true);
    expect(a[0].seq).to.be.below(a[1].seq);
    expect(await store.queueDepth()).to.equal(3);
  });

  it('a group the database refuses fails alone; the others are queued', async () => {
    // A NUL character is refused by PostgreSQL text columns: that envelope cannot be written.
    const bad = store.enqueueMany([ev('ok-in-bad', { digest: D(5) }), ev('bad', { repository: 'team/\u0000app' })]);
    const good = Promise.all([store.enqueue(ev('g1', { digest: D(6) })), store.enqueueMany([ev('g2', { digest: D(7) })])]);
    await bad.then(() => expect.fail('the bad envelope was queued'), (e: Error) => expect(e.message).to.match(/postgres/));
    const [g1, g2] = await good;
    expect(g1.inserted && g2[0].inserted).to.equal(true);
    expect(await store.queueDepth()).to.equal(2); // the bad envelope's good event is not queued either
  });
});

describe('store: own-writes checks coalesced (postgres)', function () {
  this.timeout(30_000);
  let db: { url: string; drop(): Promise<void> };
  let store: Store;
  beforeEach(async () => {
    db = await freshDatabase('pg_scaleout_own');
    store = await openStore(db.url);
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  const w = (tag: string) => ({ registry: 'lab', repository: 'quarantine/team/app', digest: D(9), tag });

  it('concurrent checks: one event consumes a memo, its redelivery too, every other event not; others unaffected', async () => {
    const now = Date.now();
    await store.rememberOwnWrite(w('v1'), now + 60_000);
    await store.rememberOwnWrite(w('v2'), now + 60_000);
    await store.rememberOwnWrite(w('old'), now - 1);
    const calls = await Promise.all([
      store.consumeOwnWrite(w('v1'), 'ev-a', now),
      store.consumeOwnWrite(w('v1'), 'ev-b', now),
      store.consumeOwnWrite(w('v1'), 'ev-a', now),
      store.consumeOwnWrite(w('v1'), 'ev-c', now),
      store.consumeOwnWrite(w('v2'), 'ev-d', now),
      store.consumeOwnWrite(w('old'), 'ev-e', now),
      store.consumeOwnWrite(w('none'), 'ev-f', now),
    ]);
    const v1 = calls.slice(0, 4);
    const winners = new Set(['ev-a', 'ev-b', 'ev-a', 'ev-c'].filter((_, i) => v1[i]));
    expect(winners.size, 'one event consumed v1').to.equal(1);
    if (winners.has('ev-a')) expect(v1).to.deep.equal([true, false, true, false]);
    expect(calls.slice(4)).to.deep.equal([true, false, false]);
    // afterwards, one by one: the winner's redelivery is still true, another event is not
    const [winner] = [...winners];
    expect(await store.consumeOwnWrite(w('v1'), winner, now)).to.equal(true);
    expect(await store.consumeOwnWrite(w('v1'), 'ev-z', now)).to.equal(false);
  });
});
