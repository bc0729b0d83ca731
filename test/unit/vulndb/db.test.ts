/**
 * The vulnerability database end to end on real files: import of the fixture OSV set, matching
 * (npm, Debian binary → source, binNMU, ownedBy, releases, alias grouping), atomic swap, bad records,
 * and the HTTP source against a loopback server serving zips built here (200, 304, truncated, 404).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import semver from 'semver';
import type { Package } from '../../../src/core/inventory.js';
import { isPushgateError } from '../../../src/core/errors.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { makeZip } from './zip.js';

const FIXTURES = path.resolve('test/fixtures/vulndb/osv');

function pkg(p: Partial<Package> & Pick<Package, 'ecosystem' | 'name' | 'version'>): Package {
  return { purl: '', path: '/x', analyzer: 'test', ...p };
}

function rec(id: string, affected: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ schema_version: '1.6.0', id, modified: '2024-01-01T00:00:00Z', affected, ...extra });
}
const npmAff = (name: string, events: unknown[]): unknown => ({ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events }] });

describe('vulndb database', function () {
  this.timeout(60000);
  let tmp: string;
  let dbPath: string;
  let db: VulnDb;
  let buildMs: number;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-vulndb-'));
    dbPath = path.join(tmp, 'data', 'vulndb.sqlite');
    const t0 = performance.now();
    const stats = await updateDb({ path: dbPath, sources: [FIXTURES] });
    buildMs = performance.now() - t0;
    expect(stats.badRecords).to.deep.equal([]);
    expect(stats.byEcosystem.npm).to.equal(467);
    // records, not affected entries: six DEBIAN-CL records name two source packages each
    expect(stats.byEcosystem.Debian).to.equal(1912);
    expect(stats.imported).to.equal(467 + 1912);
    db = VulnDb.open(dbPath);
  });
  after(() => {
    db?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('counts records per ecosystem, whatever number of entries a record has there (property)', async () => {
    const entry = fc.record({ eco: fc.constantFrom('npm', 'PyPI', 'Debian:12', 'Debian:11'), name: fc.constantFrom('a', 'b', 'c'), evaluated: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(entry, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }), async (records) => {
        const dir = fs.mkdtempSync(path.join(tmp, 'count-'));
        try {
          records.forEach((es, i) => fs.writeFileSync(path.join(dir, `R-${i}.json`), rec(`R-${i}`, es.map((e) => ({
            package: { ecosystem: e.eco, name: e.name },
            // an entry with only a GIT range is not imported (nothing to evaluate): it counts nowhere
            ranges: [e.evaluated ? { type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] } : { type: 'GIT', repo: 'https://example.test/r', events: [{ introduced: '0' }] }],
          })))));
          const want: Record<string, number> = {};
          let imported = 0;
          for (const es of records) {
            const ecos = new Set(es.filter((e) => e.evaluated).map((e) => e.eco.split(':')[0]));
            if (ecos.size) imported++;
            for (const e of ecos) want[e] = (want[e] ?? 0) + 1;
          }
          const build = updateDb({ path: path.join(dir, 'db.sqlite'), sources: [dir] });
          // nothing importable: the update is refused, nothing installed
          if (!imported) return void (await build.then(() => expect.fail('an update importing nothing must fail'), (e: Error) => expect(e.message).to.include('nothing could be imported')));
          const st = await build;
          expect(st.imported).to.equal(imported);
          expect(st.byEcosystem).to.deep.equal(want);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });

  it('imports the fixture set and reports its status', () => {
    const st = db.status();
    expect(st.records).to.equal(2379);
    expect(st.schemaVersion).to.equal(3);
    expect(st.sources).to.deep.equal([FIXTURES]);
    expect(Date.parse(db.builtAt ?? '')).to.be.closeTo(Date.now(), 120000);
    expect(buildMs).to.be.lessThan(30000);
  });

  it('matches lodash 4.17.15 to NSWG-NPM-516 (medium) and adm-zip 0.4.7 to NSWG-NPM-458 (CVSS 8.2, high, fixed 0.4.9)', () => {
    const f = db.match([
      pkg({ ecosystem: 'npm', name: 'lodash', version: '4.17.15', path: '/app/node_modules/lodash/package.json' }),
      pkg({ ecosystem: 'npm', name: 'adm-zip', version: '0.4.7' }),
      pkg({ ecosystem: 'npm', name: 'adm-zip', version: '0.4.9' }),
    ]);
    const lodash = f.filter((x) => x.package === 'lodash');
    expect(lodash.map((x) => x.id)).to.include('NSWG-NPM-516');
    const l516 = lodash.find((x) => x.id === 'NSWG-NPM-516');
    expect(l516?.severity).to.equal('medium');
    expect(l516?.path).to.equal('/app/node_modules/lodash/package.json');
    const adm = f.filter((x) => x.package === 'adm-zip');
    expect(adm.map((x) => x.id)).to.deep.equal(['NSWG-NPM-458']);
    expect(adm[0]).to.include({ severity: 'high', installedVersion: '0.4.7' });
    expect(adm[0].cvss?.score).to.equal(8.2);
    expect(adm[0].fixedVersions).to.deep.equal(['0.4.9']);
    expect(adm[0].aliases).to.deep.equal(['CVE-2018-1002204']);
  });

  it('agrees with the original node-semver ranges of every npm record at each event version (the data has no minimist record)', () => {
    let checked = 0;
    const disagree: string[] = [];
    for (const f of fs.readdirSync(path.join(FIXTURES, 'npm'))) {
      const r = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'npm', f), 'utf8')) as {
        id: string;
        affected: Array<{ package: { name: string }; ranges: Array<{ events: Array<Record<string, string>> }>; database_specific: { vulnerable_versions: string; conversion_inexact: boolean } }>;
      };
      const a = r.affected[0];
      if (a.database_specific.conversion_inexact) continue;
      const points = a.ranges.flatMap((x) => x.events.map((e) => Object.values(e)[0])).filter((v) => v !== '0' && semver.valid(v) && !semver.prerelease(v));
      for (const v of points) {
        const expected = semver.satisfies(v, a.database_specific.vulnerable_versions, { loose: true });
        const got = db.match([pkg({ ecosystem: 'npm', name: a.package.name, version: v })]).some((x) => x.records.includes(r.id));
        checked++;
        if (got !== expected) disagree.push(`${r.id} ${a.package.name}@${v}`);
      }
    }
    expect(checked).to.be.greaterThan(500);
    expect(disagree).to.deep.equal([]);
  });

  it('matches a Debian binary package through its source package and source version', () => {
    const os12 = { id: 'debian', versionId: '12', ecosystem: 'Debian:12' };
    const f = db.match([pkg({ ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1', sourceName: 'expat', sourceVersion: '2.5.0-1', path: '/var/lib/dpkg/status' })], os12);
    expect(f.map((x) => x.id)).to.include('DEBIAN-CL-CVE-2024-8176');
    const x = f.find((y) => y.id === 'DEBIAN-CL-CVE-2024-8176');
    expect(x).to.include({ package: 'libexpat1', advisoryPackage: 'expat', severity: 'unknown', urgency: 'medium' });
    expect(x?.fixedVersions).to.deep.equal(['2.5.0-1+deb12u2']);
    // the fixed source version is not affected; the binary name alone matches nothing
    expect(db.match([pkg({ ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1+deb12u2', sourceName: 'expat' })], os12).map((y) => y.id)).to.not.include('DEBIAN-CL-CVE-2024-8176');
    expect(db.match([pkg({ ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1' })], os12)).to.deep.equal([]);
    // binNMU: binary 2.5.0-1+b1 without a known source version is judged as source 2.5.0-1
    const bin = db.match([pkg({ ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1+b1', sourceName: 'expat' })], os12);
    expect(bin.find((y) => y.id === 'DEBIAN-CL-CVE-2024-8176')?.advisoryVersion).to.equal('2.5.0-1');
    // another Debian release, or no OS at all: Debian:12 records do not apply
    expect(db.match([pkg({ ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1', sourceName: 'expat' })], { id: 'debian', versionId: '11' })).to.deep.equal([]);
    expect(db.match([pkg({ ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1', sourceName: 'expat' })])).to.deep.equal([]);
  });

  it('does not match language packages owned by an OS package', () => {
    expect(db.match([pkg({ ecosystem: 'npm', name: 'lodash', version: '4.17.15', ownedBy: 'node-lodash' })])).to.deep.equal([]);
  });

  it('refuses a missing or corrupt database with the db update hint', () => {
    expect(() => VulnDb.open(path.join(tmp, 'nope.sqlite'))).to.throw(/no vulnerability database at .*nope.sqlite: run `pushgate db update`/);
    const junk = path.join(tmp, 'junk.sqlite');
    fs.writeFileSync(junk, 'not sqlite');
    expect(() => VulnDb.open(junk)).to.throw(/no vulnerability database at .*junk.sqlite: run `pushgate db update`/);
  });

  describe('update from hand-made records', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(tmp, 'src-'));
    });

    it('a malformed affected entry is skipped with its reason; the record\'s well-formed entries still match', async () => {
      fs.writeFileSync(path.join(dir, 'MIX-1.json'), JSON.stringify({
        id: 'MIX-1', affected: [
          { package: { ecosystem: 'npm', name: 'pkg-m' }, ranges: { type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] } },
          { package: { ecosystem: 'npm', name: 'pkg-m' }, versions: [1, 2] },
          { package: { ecosystem: 'npm', name: 'pkg-m' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] },
        ],
      }));
      fs.writeFileSync(path.join(dir, 'ONLYBAD-1.json'), JSON.stringify({ id: 'ONLYBAD-1', affected: [{ package: { ecosystem: 'npm', name: 'pkg-o' }, ranges: [{ events: [] }] }] }));
      const p = path.join(tmp, 'mixed.sqlite');
      const st = await updateDb({ path: p, sources: [dir] });
      expect(st.imported).to.equal(1);
      expect(st.badRecords.map((b) => b.error).sort()).to.deep.equal([
        'MIX-1: affected[0].ranges is not an array (entry skipped)',
        'MIX-1: affected[1].versions is not an array of strings (entry skipped)',
        'ONLYBAD-1: affected[0].ranges[0] needs "type" and "events" (entry skipped)',
      ]);
      const vdb = VulnDb.open(p);
      try {
        expect(vdb.match([pkg({ ecosystem: 'npm', name: 'pkg-m', version: '1.0.0' })]).map((f) => `${f.id} ${f.fixedVersions.join(',')}`)).to.deep.equal(['MIX-1 2.0.0']);
        expect(vdb.match([pkg({ ecosystem: 'npm', name: 'pkg-o', version: '1.0.0' })])).to.deep.equal([]);
      } finally {
        vdb.close();
      }
    });

    it('reports bad records by file, skips other files, excludes withdrawn, counts GIT ranges, groups aliases', async () => {
      fs.mkdirSync(path.join(dir, 'nested'));
      fs.writeFileSync(path.join(dir, 'GOOD-1.json'), rec('GOOD-1', [npmAff('pkg-a', [{ introduced: '0' }, { fixed: '1.0.0' }])], { aliases: ['CVE-2099-1'], severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N' }] }));
      fs.writeFileSync(path.join(dir, 'nested', 'GHSA-x.json'), rec('GHSA-x', [npmAff('pkg-a', [{ introduced: '0' }, { fixed: '1.0.1' }])], { aliases: ['CVE-2099-1'], database_specific: { severity: 'CRITICAL' } }));
      fs.writeFileSync(path.join(dir, 'GIT-1.json'), rec('GIT-1', [{ package: { ecosystem: 'npm', name: 'pkg-b' }, ranges: [{ type: 'GIT', repo: 'https://x', events: [{ introduced: 'abc' }] }, { type: 'SEMVER', events: [{ introduced: '0' }] }] }]));
      fs.writeFileSync(path.join(dir, 'WD-1.json'), rec('WD-1', [npmAff('pkg-a', [{ introduced: '0' }])], { withdrawn: '2024-02-01T00:00:00Z' }));
      fs.writeFileSync(path.join(dir, 'broken.json'), '{"id": "BROKEN-1", "affected": [');
      fs.writeFileSync(path.join(dir, 'noid.json'), '{"affected": []}');
      fs.writeFileSync(path.join(dir, 'UNK-1.json'), rec('UNK-1', [{ package: { ecosystem: 'Hackage', name: 'x' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }] }]));
      fs.writeFileSync(path.join(dir, 'README.md'), 'not a record');
      const p = path.join(tmp, 'hand.sqlite');
      const st = await updateDb({ path: p, sources: [dir] });
      expect(st.imported).to.equal(3);
      expect(st.withdrawn).to.equal(1);
      expect(st.skippedFiles).to.equal(1);
      expect(st.gitRanges).to.equal(1);
      expect(st.badRecords.map((b) => path.basename(b.file)).sort()).to.deep.equal(['UNK-1.json', 'broken.json', 'noid.json']);
      expect(st.badRecords.find((b) => b.file.endsWith('UNK-1.json'))?.error).to.match(/UNK-1: affected\[0\]: unknown ecosystem "Hackage"/);
      const vdb = VulnDb.open(p);
      try {
        const f = vdb.match([pkg({ ecosystem: 'npm', name: 'pkg-a', version: '0.5.0' }), pkg({ ecosystem: 'npm', name: 'pkg-b', version: '3.0.0' })]);
        const a = f.filter((x) => x.package === 'pkg-a');
        expect(a).to.have.length(1);
        expect(a[0].id).to.equal('GHSA-x');
        expect(a[0].records).to.deep.equal(['GHSA-x', 'GOOD-1']);
        expect(a[0].aliases).to.deep.equal(['CVE-2099-1', 'GOOD-1']);
        expect(a[0].severity).to.equal('critical');
        expect(a[0].severitySource).to.equal('GHSA-x database_specific.severity');
        expect(a[0].fixedVersions).to.deep.equal(['1.0.0', '1.0.1']);
        expect(f.filter((x) => x.package === 'pkg-b').map((x) => x.id)).to.deep.equal(['GIT-1']);
      } finally {
        vdb.close();
      }
    });

    it('an update whose every source is unreachable names the network error and how to update offline', async () => {
      // Node's fetch (undici) throws "fetch failed" and keeps the reason in `cause`.
      const down = (() => Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND osv.example.test') }))) as unknown as typeof fetch;
      try {
        await updateDb({ path: path.join(tmp, 'offline.sqlite'), sources: ['https://osv.example.test/Debian/all.zip', 'https://osv.example.test/npm/all.zip'], fetch: down });
        expect.fail('update should fail');
      } catch (err) {
        expect(isPushgateError(err, 'VULNDB')).to.equal(true);
        const m = (err as Error).message;
        expect(m).to.include('nothing could be imported from https://osv.example.test/Debian/all.zip, https://osv.example.test/npm/all.zip (osv.example.test could not be reached: fetch failed (getaddrinfo ENOTFOUND osv.example.test))');
        // there was no database at that path: nothing is said to be kept
        expect(m).to.not.include('previous database');
        expect(m).to.match(/nothing was installed \(there is no database at .*offline\.sqlite yet\); offline, download the OSV exports .*pushgate db update --source FILE\|DIR.*PUSHGATE_VULNDB_MIRROR/);
        // the command names the database it was for: `pushgate serve` builds its vulndb.path, not the
        // user's cache a bare `pushgate db update` installs into
        expect(m).to.include(`run \`pushgate db update --source FILE|DIR --db ${path.join(tmp, 'offline.sqlite')}\` here`);
      }
      // a source that is not a network failure: no offline advice
      try {
        await updateDb({ path: path.join(tmp, 'offline.sqlite'), sources: [path.join(tmp, 'does-not-exist')], fetch: down });
        expect.fail('update should fail');
      } catch (err) {
        // (the database's own path, offline.sqlite, may be named: the advice is what must be absent)
        expect((err as Error).message).to.not.include('offline, download');
      }
    });

    it('every one of many sources unreachable: the error counts them and names a few, not every URL', async () => {
      const down = (() => Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND osv.example.test') }))) as unknown as typeof fetch;
      for (const n of [1, 3, 4, 22]) {
        const sources = Array.from({ length: n }, (_, i) => `https://osv.example.test/Eco${i}/all.zip`);
        try {
          await updateDb({ path: path.join(tmp, `many-${n}.sqlite`), sources, fetch: down });
          expect.fail('update should fail');
        } catch (err) {
          const m = (err as Error).message;
          const listed = sources.filter((s) => m.includes(`${s},`) || m.includes(`${s} (`) || m.includes(`${s}: `) || m.includes(`${s})`));
          if (n <= 3) expect(m, `${n} sources`).to.include(`nothing could be imported from ${sources.join(', ')} (`);
          else expect(m, `${n} sources`).to.include(`nothing could be imported from ${n} sources (${sources.slice(0, 3).join(', ')}, …)`);
          expect(listed.length, `${n} sources`).to.be.at.most(3);
          expect(m).to.include('nothing was installed').and.include('offline, download the OSV exports');
        }
      }
    });

    it('sources failing alike on the network log one line per host and reason, not one per URL; other failures keep their own line', async () => {
      const reasons: Record<string, string> = { 'osv.example.test': 'getaddrinfo ENOTFOUND osv.example.test', 'mirror.example.test': 'connect ECONNREFUSED 127.0.0.1:9' };
      const down = ((url: string) => Promise.reject(new TypeError('fetch failed', { cause: new Error(reasons[new URL(url).host]) }))) as unknown as typeof fetch;
      for (const [a, b] of [[22, 0], [1, 0], [5, 2], [0, 3]]) {
        const sources = [
          ...Array.from({ length: a }, (_, i) => `https://osv.example.test/Eco%20${i}/all.zip`),
          ...Array.from({ length: b }, (_, i) => `https://mirror.example.test/osv/Other${i}/all.zip`),
          path.join(tmp, 'not-there'),
        ];
        const lines: string[] = [];
        try {
          await updateDb({ path: path.join(tmp, `grouped-${a}-${b}.sqlite`), sources, fetch: down, log: (l) => lines.push(l) });
          expect.fail('update should fail');
        } catch (err) {
          const m = (err as Error).message;
          // the local path is not a network failure: the error lists the first three, as before
          expect(m).to.include('nothing could be imported').and.not.include('offline, download');
        }
        const case_ = `${a}+${b} sources`;
        // no URL of a network failure is logged on its own line when others on its host failed alike
        for (const [host, n] of [['osv.example.test', a], ['mirror.example.test', b]] as const) {
          const about = lines.filter((l) => l.includes(host));
          if (n === 0) expect(about, case_).to.deep.equal([]);
          else if (n === 1) expect(about, case_).to.deep.equal([`${sources.find((s) => s.includes(host))}: ${host} could not be reached (fetch failed (${reasons[host]}))`]);
          else {
            expect(about, case_).to.have.length(1);
            expect(about[0], case_).to.match(new RegExp(`^${host.replace(/\./g, '\\.')} could not be reached \\(fetch failed \\(${reasons[host].replace(/\./g, '\\.')}\\)\\): ${n} sources not read \\(`));
            // names, not URLs: the bucket layout's ecosystem, decoded
            expect(about[0], case_).to.not.include('https://');
            expect(about[0], case_).to.include(host === 'osv.example.test' ? 'Eco 0, Eco 1' : 'osv/Other0, osv/Other1');
            if (n > 6) expect(about[0], case_).to.match(/, …\)$/);
          }
        }
        expect(lines.filter((l) => l.startsWith(path.join(tmp, 'not-there'))), case_).to.have.length(1);
      }
    });

    it('every source unreachable on one host for one reason: the error names the host and reason once, no log line repeats it', async () => {
      const down = (() => Promise.reject(new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND osv.example.test') }))) as unknown as typeof fetch;
      const sources = Array.from({ length: 22 }, (_, i) => `https://osv.example.test/Eco${i}/all.zip`);
      const lines: string[] = [];
      try {
        await updateDb({ path: path.join(tmp, 'one-host.sqlite'), sources, fetch: down, log: (l) => lines.push(l) });
        expect.fail('update should fail');
      } catch (err) {
        const m = (err as Error).message;
        expect(m).to.include('(osv.example.test could not be reached: fetch failed (getaddrinfo ENOTFOUND osv.example.test))');
        expect(m.split('ENOTFOUND').length - 1).to.equal(1);
        expect(m).to.include('offline, download the OSV exports');
      }
      // the CLI prints the error as its one line: the same reason logged before it would be a second
      expect(lines.filter((l) => l.includes('could not be reached'))).to.deep.equal([]);
    });

    it('an update that fails leaves the old database answering', async () => {
      const p = path.join(tmp, 'swap.sqlite');
      fs.writeFileSync(path.join(dir, 'A-1.json'), rec('A-1', [npmAff('pkg-a', [{ introduced: '0' }])]));
      await updateDb({ path: p, sources: [dir] });
      const reader = VulnDb.open(p);
      const bad = fs.mkdtempSync(path.join(tmp, 'bad-'));
      fs.writeFileSync(path.join(bad, 'x.json'), 'garbage');
      try {
        await updateDb({ path: p, sources: [bad, path.join(tmp, 'does-not-exist')] });
        expect.fail('update should fail');
      } catch (err) {
        expect(isPushgateError(err, 'VULNDB')).to.equal(true);
        expect((err as Error).message).to.match(/nothing could be imported.*previous database is kept/);
      }
      expect(reader.match([pkg({ ecosystem: 'npm', name: 'pkg-a', version: '1.0.0' })]).map((x) => x.id)).to.deep.equal(['A-1']);
      reader.close();
      const again = VulnDb.open(p);
      expect(again.status().records).to.equal(1);
      again.close();
      expect(fs.readdirSync(tmp).filter((f) => f.startsWith('swap.sqlite.new-'))).to.deep.equal([]);
      // a successful update replaces it; a reader opened before keeps its snapshot
      const before = VulnDb.open(p);
      fs.writeFileSync(path.join(dir, 'B-1.json'), rec('B-1', [npmAff('pkg-b', [{ introduced: '0' }])]));
      await updateDb({ path: p, sources: [dir] });
      expect(before.status().records).to.equal(1);
      before.close();
      const after = VulnDb.open(p);
      expect(after.status().records).to.equal(2);
      after.close();
    });

    it('takes the highest severity across aliases even from records that did not match, naming the record', async () => {
      // the matched npm record has no rating; a PyPI record and a record of another npm version range
      // share its CVE alias and carry ratings; a third record sharing nothing is ignored
      fs.writeFileSync(path.join(dir, 'M-1.json'), rec('M-1', [npmAff('pkg-m', [{ introduced: '0' }, { fixed: '2.0.0' }])], { aliases: ['CVE-2099-7'] }));
      fs.writeFileSync(path.join(dir, 'PY-1.json'), rec('PY-1', [{ package: { ecosystem: 'PyPI', name: 'other' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0' }] }] }],
        { aliases: ['CVE-2099-7'], severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }));
      fs.writeFileSync(path.join(dir, 'GHSA-m.json'), rec('GHSA-m', [npmAff('pkg-m', [{ introduced: '5.0.0' }, { fixed: '5.1.0' }])],
        { aliases: ['CVE-2099-7'], database_specific: { severity: 'MODERATE' } }));
      fs.writeFileSync(path.join(dir, 'Z-1.json'), rec('Z-1', [npmAff('pkg-z', [{ introduced: '0' }])],
        { aliases: ['CVE-2099-8'], severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H' }] }));
      // a CVSS v4 rating only known through an alias that has no affected entry pushgate imports
      fs.writeFileSync(path.join(dir, 'N-1.json'), rec('N-1', [npmAff('pkg-n', [{ introduced: '0' }])], { aliases: ['CVE-2099-9'] }));
      fs.writeFileSync(path.join(dir, 'HK-1.json'), rec('HK-1', [], {
        aliases: ['CVE-2099-9'], severity: [{ type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N' }] }));
      fs.writeFileSync(path.join(dir, 'U-1.json'), rec('U-1', [npmAff('pkg-u', [{ introduced: '0' }])], { aliases: ['CVE-2099-10'] }));
      const p = path.join(tmp, 'alias-sev.sqlite');
      await updateDb({ path: p, sources: [dir] });
      const vdb = VulnDb.open(p);
      try {
        const f = vdb.match([pkg({ ecosystem: 'npm', name: 'pkg-m', version: '1.0.0' }), pkg({ ecosystem: 'npm', name: 'pkg-n', version: '1.0.0' })]);
        const m = f.find((x) => x.package === 'pkg-m');
        expect(m).to.include({ id: 'M-1', severity: 'critical', severitySource: 'PY-1 CVSS_V3' });
        expect(m?.records).to.deep.equal(['M-1']);
        expect(m?.cvss?.score).to.equal(9.8);
        const n = f.find((x) => x.package === 'pkg-n');
        expect(n?.severity).to.equal('medium');
        expect(n?.severitySource).to.equal('HK-1 CVSS_V4');
        // a record's own rating; and no rating anywhere: unknown, source none
        const z = vdb.match([pkg({ ecosystem: 'npm', name: 'pkg-z', version: '1.0.0' }), pkg({ ecosystem: 'npm', name: 'pkg-u', version: '1.0.0' })]);
        expect(z.find((x) => x.package === 'pkg-z')).to.include({ severity: 'critical', severitySource: 'Z-1 CVSS_V3' });
        expect(z.find((x) => x.package === 'pkg-u')).to.include({ id: 'U-1', severity: 'unknown', severitySource: 'none' });
      } finally {
        vdb.close();
      }
    });

    it('matches release-qualified ecosystems to the OS release (Alpine, Ubuntu, Red Hat, Rocky, SUSE, Wolfi)', async () => {
      const os1 = (eco: string, name: string, fixed: string): unknown => ({ package: { ecosystem: eco, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] });
      fs.writeFileSync(path.join(dir, 'R.json'), rec('R-1', [
        os1('Alpine:v3.19', 'openssl', '3.1.4-r1'), os1('Alpine:v3.18', 'openssl', '3.1.0-r0'), os1('Ubuntu:22.04:LTS', 'openssl', '3.0.2-0ubuntu1.12'),
        os1('Red Hat:enterprise_linux:9::appstream', 'openssl', '1:3.0.7-25.el9'), os1('Rocky Linux:9', 'openssl', '1:3.0.7-25.el9'),
        os1('SUSE:Linux Enterprise Server 15 SP5', 'openssl-3', '3.0.8-150500.5.20.1'), os1('Wolfi', 'openssl', '3.2.0-r0'),
      ]));
      const p = path.join(tmp, 'rel.sqlite');
      await updateDb({ path: p, sources: [dir] });
      const vdb = VulnDb.open(p);
      try {
        const m = (eco: string, name: string, version: string, o: { id: string; versionId?: string }): string[] =>
          vdb.match([pkg({ ecosystem: eco, name, version, sourceName: name })], o).map((f) => f.fixedVersions.join());
        expect(m('Alpine', 'openssl', '3.1.4-r0', { id: 'alpine', versionId: '3.19.1' })).to.deep.equal(['3.1.4-r1']);
        expect(m('Alpine', 'openssl', '3.1.4-r0', { id: 'alpine', versionId: '3.18.4' })).to.deep.equal([]);
        expect(m('Alpine', 'openssl', '3.1.4-r0', { id: 'alpine', versionId: '3.20.0' })).to.deep.equal([]);
        expect(m('Debian', 'openssl', '3.0.2-0ubuntu1.10', { id: 'ubuntu', versionId: '22.04' })).to.deep.equal(['3.0.2-0ubuntu1.12']);
        expect(m('Red Hat', 'openssl', '1:3.0.7-24.el9', { id: 'rhel', versionId: '9.3' })).to.deep.equal(['1:3.0.7-25.el9']);
        expect(m('Rocky Linux', 'openssl', '1:3.0.7-24.el9', { id: 'rocky', versionId: '9.3' })).to.deep.equal(['1:3.0.7-25.el9']);
        expect(m('SUSE', 'openssl-3', '3.0.8-150500.5.8.1', { id: 'sles', versionId: '15.5' })).to.deep.equal(['3.0.8-150500.5.20.1']);
        expect(m('SUSE', 'openssl-3', '3.0.8-150500.5.8.1', { id: 'sles', versionId: '15.4' })).to.deep.equal([]);
        expect(m('Wolfi', 'openssl', '3.1.0-r0', { id: 'wolfi', versionId: '20230201' })).to.deep.equal(['3.2.0-r0']);
      } finally {
        vdb.close();
      }
    });
  });

  describe('HTTP source (loopback server)', () => {
    let server: http.Server;
    let base: string;
    let body: Buffer;
    let requests: Array<{ url: string; inm?: string; ims?: string; status: number }>;

    before(async () => {
      requests = [];
      server = http.createServer((req, res) => {
        const inm = req.headers['if-none-match'];
        const ims = req.headers['if-modified-since'];
        const etag = `"${body.length}-${body.subarray(-8).toString('hex')}"`;
        let status = 200;
        if (req.url === '/npm/all.zip') {
          if (inm === etag) status = 304;
        } else if (req.url === '/trunc/all.zip') {
          // a truncated download: the server promises the full length, sends half, then closes
          res.writeHead(200, { 'content-length': String(body.length) });
          res.write(body.subarray(0, body.length >> 1));
          requests.push({ url: req.url ?? '', status: 200 });
          res.destroy();
          return;
        } else status = 404;
        requests.push({ url: req.url ?? '', inm: inm as string | undefined, ims: ims as string | undefined, status });
        if (status === 200) res.writeHead(200, { etag, 'last-modified': new Date(0).toUTCString(), 'content-type': 'application/zip' }).end(body);
        else res.writeHead(status).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => {
      server.close();
    });

    it('downloads, then sends a conditional request and reuses the copy on 304', async () => {
      body = makeZip({
        'NSWG-NPM-458.json': fs.readFileSync(path.join(FIXTURES, 'npm', 'NSWG-NPM-458.json')),
        'BAD-1.json': '{"id":"BAD-1","affected":"nope"}',
        'notes.txt': 'x',
      });
      const p = path.join(tmp, 'http.sqlite');
      const s1 = await updateDb({ path: p, sources: [`${base}/npm/all.zip`] });
      expect(s1.imported).to.equal(1);
      expect(s1.skippedFiles).to.equal(1);
      expect(s1.badRecords).to.have.length(1);
      expect(s1.badRecords[0].file).to.match(/!BAD-1\.json$/);
      expect(s1.badRecords[0].error).to.match(/BAD-1: "affected" is not an array/);
      const s2 = await updateDb({ path: p, sources: [`${base}/npm/all.zip`] });
      expect(s2.imported).to.equal(1);
      const npmReqs = requests.filter((r) => r.url === '/npm/all.zip');
      expect(npmReqs.map((r) => r.status)).to.deep.equal([200, 304]);
      expect(npmReqs[1].inm).to.be.a('string');
      expect(npmReqs[1].ims).to.be.a('string');
      const vdb = VulnDb.open(p);
      expect(vdb.match([pkg({ ecosystem: 'npm', name: 'adm-zip', version: '0.4.7' })]).map((x) => x.id)).to.deep.equal(['NSWG-NPM-458']);
      vdb.close();
    });

    it('a truncated download or a 404 imports nothing and keeps the old database', async () => {
      const p = path.join(tmp, 'http.sqlite');
      for (const url of [`${base}/trunc/all.zip`, `${base}/Nope/all.zip`]) {
        try {
          await updateDb({ path: p, sources: [url] });
          expect.fail('should fail');
        } catch (err) {
          expect(isPushgateError(err, 'VULNDB'), String(err)).to.equal(true);
          expect((err as Error).message).to.include(url);
        }
      }
      const vdb = VulnDb.open(p);
      expect(vdb.status().records).to.equal(1);
      vdb.close();
    });

    it('reads a local zip', async () => {
      const z = path.join(tmp, 'local.zip');
      fs.writeFileSync(z, makeZip({ 'a/NSWG-NPM-516.json': fs.readFileSync(path.join(FIXTURES, 'npm', 'NSWG-NPM-516.json')) }));
      const st = await updateDb({ path: path.join(tmp, 'zip.sqlite'), sources: [z] });
      expect(st.imported).to.equal(1);
    });
  });
});
