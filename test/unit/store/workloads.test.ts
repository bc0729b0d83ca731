/**
 * Workload usage records on SQLite and on the real PostgreSQL (127.0.0.1:5432): the upsert keeps the
 * earliest first-seen and the latest last-seen whatever the order of batches, a digest's workloads come
 * back most recently seen first, bounded, with their count; retention deletes what was not seen since.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import type { Digest } from '../../../src/core/index.js';
import type { Store, WorkloadUsage } from '../../../src/store/index.js';
import { freshStoreEachTest } from '../../helpers/postgres.js';

const d = (s: string): Digest => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}` as Digest;
const row = (digest: Digest, name: string, firstSeen: number, lastSeen = firstSeen, over: Partial<WorkloadUsage> = {}): WorkloadUsage => ({
  digest, cluster: '', namespace: 'shop', kind: 'ReplicaSet', name, firstSeen, lastSeen, ...over,
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`workload usage store (${kind})`, function () {
    this.timeout(30_000);
    const current = freshStoreEachTest(kind, 'pg_workloads');
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('upserts: first seen is the earliest, last seen the latest, whatever the batch order (duplicates in one batch too)', async () => {
      const a = d('a');
      await store.workloads.recordUsage([row(a, 'web-1', 5000)]);
      await store.workloads.recordUsage([row(a, 'web-1', 2000), row(a, 'web-1', 9000), row(a, 'web-1', 3000, 4000)]);
      const got = (await store.workloads.workloadsOf([a], 20)).get(a);
      expect(got).to.deep.equal({ count: 1, workloads: [{ namespace: 'shop', kind: 'ReplicaSet', name: 'web-1', firstSeen: new Date(2000).toISOString(), lastSeen: new Date(9000).toISOString() }] });
    });

    it('lists each digest’s workloads most recently seen first, at most perImage, with the count; clusters kept apart', async () => {
      const a = d('a');
      const b = d('b');
      const rows = Array.from({ length: 30 }, (_, i) => row(a, `w${String(i).padStart(2, '0')}`, 1000 + i));
      rows.push(row(b, 'only', 50, 50, { cluster: 'eu-1', kind: 'StatefulSet' }), row(b, 'only', 60, 60, { cluster: 'us-1', kind: 'StatefulSet' }));
      await store.workloads.recordUsage(rows);
      const got = await store.workloads.workloadsOf([a, b, d('none')], 20);
      expect(got.get(a)!.count).to.equal(30);
      expect(got.get(a)!.workloads.map((w) => w.name)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `w${String(29 - i).padStart(2, '0')}`));
      expect(got.get(b)).to.deep.equal({
        count: 2,
        workloads: [
          { cluster: 'us-1', namespace: 'shop', kind: 'StatefulSet', name: 'only', firstSeen: new Date(60).toISOString(), lastSeen: new Date(60).toISOString() },
          { cluster: 'eu-1', namespace: 'shop', kind: 'StatefulSet', name: 'only', firstSeen: new Date(50).toISOString(), lastSeen: new Date(50).toISOString() },
        ],
      });
      expect(got.has(d('none'))).to.equal(false);
      expect((await store.workloads.workloadsOf([], 20)).size).to.equal(0);
    });

    it('keeps names with control characters and quotes exactly as given', async () => {
      const a = d('a');
      const odd = 'we\u001b[31mird\n"\'\\\u202e';
      await store.workloads.recordUsage([row(a, odd, 1, 1, { namespace: 'n\t1', kind: 'K\u0007' })]);
      const w = (await store.workloads.workloadsOf([a], 1)).get(a)!.workloads[0];
      expect([w.namespace, w.kind, w.name]).to.deep.equal(['n\t1', 'K\u0007', odd]);
    });

    it('prunes rows last seen before the cutoff, and only those', async () => {
      const a = d('a');
      await store.workloads.recordUsage([row(a, 'old', 100, 100), row(a, 'kept', 100, 5000), row(d('b'), 'old2', 10, 200)]);
      expect(await store.workloads.pruneUsage(1000)).to.equal(2);
      expect((await store.workloads.workloadsOf([a, d('b')], 20)).get(a)!.workloads.map((w) => w.name)).to.deep.equal(['kept']);
      expect(await store.workloads.pruneUsage(1000)).to.equal(0);
    });

    it('refuses a batch over the bound and a bad perImage with clear errors', async () => {
      const many = Array.from({ length: 1001 }, (_, i) => row(d('x'), `w${i}`, i));
      await store.workloads.recordUsage(many).then(() => expect.fail('accepted'), (e: Error) => expect(e.message).to.match(/1001 rows in one call; at most 1000/));
      await store.workloads.workloadsOf([d('x')], 0).then(() => expect.fail('accepted'), (e: Error) => expect(e.message).to.match(/perImage 0/));
    });
  });
}
