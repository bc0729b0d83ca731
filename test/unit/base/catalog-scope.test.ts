/**
 * What may define "base" (and so have its findings dropped by a policy's `excludeBase`): only images of
 * the repositories `baseImages.repositories` names now, and never a quarantine repository.
 *
 * - The store keeps every entry recorded under earlier configurations. A catalog loaded after the
 *   operator took a repository out of `baseImages.repositories` (found writable by pushers) still made its
 *   images verified bases, on every replica and after every restart, for as long as the rows lasted.
 * - A glob such as `*\/debian` meant for `library/debian` also matches `quarantine/debian`, where pushgate
 *   copies a blocked push of `debian`: the tag listing judged that copy and recorded it, so the blocked
 *   image became the verified base of every image built on its layers.
 * Real SQLite and PostgreSQL stores (127.0.0.1:5432); a fast-check property over globs, repositories
 * (some in the quarantine prefix), records and configuration changes.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import type { Digest } from '../../../src/core/index.js';
import { BaseCatalog } from '../../../src/base/catalog.js';
import { MemoryBaseCatalogStore } from '../../../src/base/memory-store.js';
import { isQuarantineRepositoryOf } from '../../../src/config/quarantine.js';
import type { RegistryConfig } from '../../../src/config/types.js';
import type { Store } from '../../../src/store/index.js';
import { freshStoreEachTest } from '../../helpers/postgres.js';

const d = (s: string): Digest => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}` as Digest;
const LAB = { type: 'distribution', quarantine: { repositoryPrefix: 'quarantine/' } } as Pick<RegistryConfig, 'type' | 'quarantine'>;
const HARBOR = { type: 'harbor', quarantine: { repositoryPrefix: 'quarantine/', project: 'held' } } as Pick<RegistryConfig, 'type' | 'quarantine'>;
const excluded = (registry: string, repository: string) => isQuarantineRepositoryOf(registry === 'harbor' ? HARBOR : LAB, repository);

/** A platform image of `repository` whose layers are `layers` (diffIDs named by the strings). */
const image = (repository: string, layers: string[]) => ({ digest: d(`${repository}:${layers.join(',')}`), platform: 'linux/amd64', diffIDs: layers.map(d), findings: [] });
/** Detects the base of an image made of `layers` plus one layer of its own. */
const baseOf = (c: BaseCatalog, layers: string[]) => c.detect({ platform: 'linux/amd64', layers: [...layers, 'app'].map((l) => ({ digest: d(`blob ${l}`), diffID: d(l) })) }).base;

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`base catalog scope (${kind})`, function () {
    this.timeout(60_000);
    const current = freshStoreEachTest(kind, 'pushgate_catscope');
    let store: Store;
    beforeEach(() => {
      store = current();
    });

    it('a repository taken out of baseImages.repositories stops defining a base at the next load, its rows kept', async () => {
      const before = new BaseCatalog(store.baseCatalog, [{ registry: 'lab', repositories: ['lab/*', 'team/*'] }], { excluded });
      await before.load();
      const img = image('team/debian', ['v1', 'v2']);
      await before.record('lab', 'team/debian', img.digest, [img], '12');
      expect(baseOf(before, ['v1', 'v2'])).to.include({ method: 'chain', repository: 'team/debian' });

      const after = new BaseCatalog(store.baseCatalog, [{ registry: 'lab', repositories: ['lab/*'] }], { excluded });
      await after.load();
      expect(baseOf(after, ['v1', 'v2']).method).to.equal('none');
      expect(after.byDigest(img.digest)).to.deep.equal([]);
      expect(after.currentTags('lab', 'team/debian')).to.deep.equal([]);
      // The store is not rewritten: naming the repository again brings it back.
      expect((await store.baseCatalog.listEntries()).map((e) => e.repository)).to.deep.equal(['team/debian']);
      const again = new BaseCatalog(store.baseCatalog, [{ registry: 'lab', repositories: ['team/debian'] }], { excluded });
      await again.load();
      expect(baseOf(again, ['v1', 'v2'])).to.include({ method: 'chain', repository: 'team/debian' });
    });

    it('a quarantine repository a glob matches is never recorded, and rows an older version recorded there are not loaded', async () => {
      const globs = [{ registry: 'lab', repositories: ['*/debian'] }, { registry: 'harbor', repositories: ['**/debian'] }];
      const c = new BaseCatalog(store.baseCatalog, globs, { excluded });
      await c.load();
      expect(c.covers('lab', 'library/debian')).to.equal(true);
      expect(c.covers('lab', 'quarantine/debian')).to.equal(false);
      expect(c.covers('harbor', 'held/team/debian')).to.equal(false);
      expect(c.covers('harbor', 'quarantine/team/debian')).to.equal(false);
      const held = image('quarantine/debian', ['vuln']);
      await c.record('lab', 'quarantine/debian', held.digest, [held], 'latest');
      expect(await c.recordTag('lab', 'quarantine/debian', 'x', held.digest)).to.equal(false);
      expect(await store.baseCatalog.listEntries()).to.deep.equal([]);
      expect(baseOf(c, ['vuln']).method).to.equal('none');
      // What a version without the exclusion wrote is in the store: not loaded.
      await store.baseCatalog.putEntry({ registry: 'lab', repository: 'quarantine/debian', digest: held.digest, platform: 'linux/amd64', diffIDs: held.diffIDs, firstSeen: 1 });
      await store.baseCatalog.putTag({ registry: 'lab', repository: 'quarantine/debian', tag: 'latest', digest: held.digest }, 1);
      const reloaded = new BaseCatalog(store.baseCatalog, globs, { excluded });
      await reloaded.load();
      expect(baseOf(reloaded, ['vuln']).method).to.equal('none');
      expect(reloaded.byName('quarantine/debian', 'latest')).to.deep.equal([]);
    });
  });
}

describe('base catalog scope: property', () => {
  it('whatever was recorded under whichever globs, a loaded catalog names only a base of a repository it covers now, never a quarantine one', async () => {
    const repos = ['library/debian', 'team/debian', 'debian', 'quarantine/debian', 'quarantine/team/debian', 'base/alpine', 'quarantine/base/alpine'];
    const globSets = [['*/debian'], ['**/debian'], ['**'], ['base/**', 'library/*'], ['team/*'], ['quarantine/**'], ['debian', 'quarantine/debian']];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ repo: fc.constantFrom(...repos), layers: fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(...globSets),
        fc.constantFrom(...globSets),
        fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 4 }),
        async (records, globsThen, globsNow, probe) => {
          const store = new MemoryBaseCatalogStore();
          const then = new BaseCatalog(store, [{ registry: 'lab', repositories: globsThen }], { excluded });
          // Rows as any version may have left them: recorded under the earlier globs, quarantine included.
          for (const r of records) {
            const img = image(r.repo, r.layers);
            await store.putEntry({ registry: 'lab', repository: r.repo, digest: img.digest, platform: img.platform, diffIDs: img.diffIDs, firstSeen: 1 });
            await then.record('lab', r.repo, img.digest, [img], 'latest');
          }
          const now = new BaseCatalog(store, [{ registry: 'lab', repositories: globsNow }], { excluded });
          await now.load();
          const base = baseOf(now, probe);
          if (base.repository !== undefined) {
            expect(now.covers('lab', base.repository), `${base.repository} under ${globsNow.join(',')}`).to.equal(true);
            expect(base.repository.startsWith('quarantine/')).to.equal(false);
          }
          for (const e of now.list()) expect(now.covers(e.registry, e.repository)).to.equal(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
