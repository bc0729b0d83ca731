import { expect } from 'chai';
import fc from 'fast-check';
import { findingKey, type Digest, type Finding } from '../../../src/core/index.js';
import { entriesOf, findingParser, type IndexedFinding, type IndexedPackages, type Store } from '../../../src/store/index.js';
import { freshStoreEachTest } from '../../helpers/postgres.js';

/**
 * A database pass reads the changed pairs' index rows grouped by the store (each distinct row once, with
 * the images holding it; src/monitor/monitor.ts dbCandidates): per image, the groups must give back
 * exactly the rows the ungrouped reads give, for every row text, including texts made to look like what
 * the grouping blanks (an image's digest as a package's member or inside a string, an empty manifest, a
 * child's manifest).
 */

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const digestArb = hex64.map((h) => `sha256:${h}`);
/** Strings that may hold what the grouping searches for. */
const tricky = (own: string) => fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('', '"', '\\', `"manifest":"${own}"`, `x\\"manifest\\":\\"${own}`, '"manifest":""', '/srv/app1/node_modules/a/package.json'));
const PKGS = ['npm:lodash', 'npm:adm-zip', 'PyPI:x'];

/** One image's entries, drawn with its own digest (which its entries' manifests may or may not be). */
const entriesFor = (own: string) =>
  fc.array(
    fc.record(
      {
        pkg: fc.constantFrom(...PKGS),
        platform: fc.constantFrom('linux/amd64', 'linux/arm64'),
        os: fc.record({ id: fc.constantFrom('debian', 'alpine'), versionId: fc.constantFrom('12', '3.19') }),
        manifest: fc.oneof(fc.constant(own), fc.constant(own), digestArb, fc.constantFrom('', 'sha256:')),
        based: fc.constant(true as const),
        packages: fc.array(
          fc.record({ ecosystem: fc.constantFrom('npm', 'pypi'), name: fc.constantFrom('lodash', 'manifest'), version: fc.constantFrom('1.0.0', '2.0.0'), path: tricky(own), manifest: fc.constantFrom(own, '') }, { requiredKeys: ['ecosystem', 'name', 'version', 'path'] }),
          { maxLength: 2 },
        ),
      },
      { requiredKeys: ['pkg', 'packages'] },
    ),
    { maxLength: 4 },
  );

const finding = fc.record({ name: fc.constantFrom('lodash', 'adm-zip', 'x'), version: fc.constantFrom('1.0.0', '2.0.0'), id: fc.constantFrom('A-1', 'A-2'), severity: fc.constantFrom('low', 'high') }).map(
  (x): IndexedFinding => {
    const f: Finding = { id: x.id, aliases: [], ecosystem: 'npm', package: x.name, installedVersion: x.version, fixedVersions: [], severity: x.severity as Finding['severity'], path: `/app/node_modules/${x.name}/package.json` };
    return { key: findingKey(f), pkg: x.name === 'x' ? 'PyPI:x' : `npm:${x.name}`, finding: f, firstSeen: 1000 };
  },
);

/** Images: a few shapes (images built alike), each image one of them with its own digest put in. */
const images = fc.array(fc.tuple(digestArb, fc.array(finding, { maxLength: 4 })), { minLength: 1, maxLength: 3 }).chain((shapes) =>
  fc.array(fc.tuple(fc.nat(shapes.length - 1), fc.boolean()), { minLength: 1, maxLength: 8 }).chain((picks) =>
    fc.tuple(...picks.map(([n, alike]) => (alike ? fc.constant(shapes[n][0]) : digestArb).chain((tplOwn) => entriesFor(tplOwn).map((entries) => ({ tplOwn, entries, findings: shapes[n][1] }))))),
  ),
);

let serial = 0;
for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`store (${kind}): the changed pairs' index rows read grouped`, function () {
    this.timeout(120_000);
    const store = freshStoreEachTest(kind, 'pushgate_monitor_groups');

    it('property: per image, the groups give the rows the ungrouped reads give', async () => {
      const s: Store = store();
      await fc.assert(
        fc.asyncProperty(images, async (list) => {
          // each image gets a digest of its own; its entries' own-digest texts become that digest
          const written = list.map((im) => {
            const digest = `sha256:${(++serial).toString(16).padStart(64, '0')}` as Digest;
            const entries = JSON.parse(JSON.stringify(im.entries).split(im.tplOwn).join(digest)) as IndexedPackages[];
            return { digest, entries, findings: im.findings };
          });
          await s.monitor.putIndexes(written.map((w) => ({ digest: w.digest, vulndbDigest: 'sha256:db', reportAt: 1, packages: w.entries, findings: w.findings })));
          const mine = new Set(written.map((w) => w.digest));
          const key = (d: string, pkg: string) => `${d} ${pkg}`;
          // packages: per (image, pair), the row's entries, each row parsed alone
          const want = new Map<string, IndexedPackages[]>();
          for (const w of written) for (const e of await s.monitor.packagesOf(w.digest)) want.set(key(w.digest, e.pkg), [...(want.get(key(w.digest, e.pkg)) ?? []), e]);
          const got = new Map<string, IndexedPackages[]>();
          for (const g of await s.monitor.packageGroupsUnder(PKGS)) {
            for (const d of g.digests) {
              if (!mine.has(d)) continue;
              expect(got.has(key(d, g.pkg)), 'an image holds one row per pair').to.equal(false);
              got.set(key(d, g.pkg), entriesOf(g, d));
            }
          }
          expect(new Map([...got].sort())).to.deep.equal(new Map([...want].sort()));
          // findings: per image, the rows (key, pair, finding) in any order
          const rows = (xs: Array<{ digest: Digest; f: IndexedFinding }>) => xs.filter((x) => mine.has(x.digest)).map((x) => JSON.stringify([x.digest, x.f.key, x.f.pkg, x.f.finding])).sort();
          const parse = findingParser();
          const plain = rows((await s.monitor.findingsUnder(PKGS, parse)).map((f) => ({ digest: f.digest, f })));
          const grouped = rows((await s.monitor.findingGroupsUnder(PKGS, parse)).flatMap((g) => g.digests.map((digest) => ({ digest, f: g.finding }))));
          expect(grouped).to.deep.equal(plain);
        }),
        { numRuns: kind === 'sqlite' ? 200 : 40 },
      );
    });

    it('images built alike are one group: their rows are sent and parsed once', async () => {
      const s: Store = store();
      const digests = [1, 2, 3].map((n) => `sha256:${n.toString(16).padStart(64, 'a')}` as Digest);
      const entry = (d: Digest): IndexedPackages => ({ pkg: 'npm:lodash', manifest: d, packages: [{ ecosystem: 'npm', name: 'lodash', version: '4.17.20', path: '/app/node_modules/lodash/package.json', purl: 'pkg:npm/lodash@4.17.20', analyzer: 'lang/npm' }] });
      const f: Finding = { id: 'A-1', aliases: [], ecosystem: 'npm', package: 'lodash', installedVersion: '4.17.20', fixedVersions: [], severity: 'high', path: '/app/node_modules/lodash/package.json' };
      await s.monitor.putIndexes(digests.map((d, n) => ({ digest: d, vulndbDigest: 'sha256:db', reportAt: 1, packages: [entry(d)], findings: [{ key: findingKey(f), pkg: 'npm:lodash', finding: f, firstSeen: n }] })));
      const groups = await s.monitor.packageGroupsUnder(['npm:lodash']);
      expect(groups).to.have.length(1);
      expect([...groups[0].digests].sort()).to.deep.equal(digests);
      for (const d of digests) expect(entriesOf(groups[0], d)).to.deep.equal([entry(d)]);
      const fg = await s.monitor.findingGroupsUnder(['npm:lodash']);
      expect(fg).to.have.length(1);
      expect([...fg[0].digests].sort()).to.deep.equal(digests);
    });
  });
}
