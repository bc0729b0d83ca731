/**
 * The base catalog's store on SQLite and on the real PostgreSQL (127.0.0.1:5432): entries keep their
 * first-seen time, a tag's move is recorded once with its time, and a {@link BaseCatalog} loaded from
 * the store (a restart) detects and recommends as the one that wrote it.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import type { Digest } from '../../../src/core/index.js';
import { BaseCatalog } from '../../../src/base/catalog.js';
import type { Store } from '../../../src/store/index.js';
import { freshStoreEachTest } from '../../helpers/postgres.js';

const d = (s: string): Digest => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}` as Digest;

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`base catalog store (${kind})`, function () {
    this.timeout(30_000);
    const current = freshStoreEachTest(kind, 'pushgate_basecat');
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('keeps entries and tag moves, and a reloaded catalog answers the same', async () => {
      const repos = [{ registry: 'lab', repositories: ['lab/*'] }];
      const a = new BaseCatalog(store.baseCatalog, repos);
      await a.load();
      await a.record('lab', 'lab/debian', d('old'), [{ digest: d('old'), platform: 'linux/amd64', diffIDs: [d('L1')], findings: [] }], '12', 1000);
      await a.record('lab', 'lab/debian', d('old'), [{ digest: d('old'), platform: 'linux/amd64', diffIDs: [d('L1')] }], undefined, 5000);
      expect((await store.baseCatalog.listEntries())[0].firstSeen).to.equal(1000);
      expect((await store.baseCatalog.listEntries())[0].summary, 'a summary is kept when a later record has none').to.be.an('object');
      expect(await a.recordTag('lab', 'lab/debian', '12', d('old'), 2000)).to.equal(false);
      await a.record('lab', 'lab/debian', d('new'), [{ digest: d('new'), platform: 'linux/amd64', diffIDs: [d('L9')], findings: [] }], '12', 3000);

      const b = new BaseCatalog(store.baseCatalog, repos);
      await b.load();
      expect(b.covers('lab', 'lab/debian')).to.equal(true);
      expect(b.covers('lab', 'other/debian')).to.equal(false);
      expect(b.currentTags('lab', 'lab/debian')).to.deep.equal([{ registry: 'lab', repository: 'lab/debian', tag: '12', digest: d('new'), since: 3000 }]);
      const det = b.detect({ platform: 'linux/amd64', layers: [{ digest: d('b1'), diffID: d('L1') }, { digest: d('b2'), diffID: d('app') }] });
      expect(det.base).to.include({ method: 'chain', repository: 'lab/debian', digest: d('old') });
      expect(det.base.tags).to.deep.equal(['12']);
      expect(det.base.recommendations!.map((r) => [r.kind, r.tag, r.digest])).to.deep.equal([['refresh', '12', d('new')]]);
    });
  });
}
