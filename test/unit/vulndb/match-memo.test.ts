/**
 * The match memo (src/vulndb/db.ts MatchMemo) against matching each inventory on its own: over generated
 * inventories matched one after another with one memo, every call gives the findings (fields, their
 * order, their JSON text) a call without the memo gives. The generated packages differ in every field
 * the match reads (ecosystem spelling, OS release, name, version, source name and version, binNMU
 * suffix, ownedBy) and in every field a finding copies (path, layer, purl, platform), often in one field
 * only, and calls change the severity order (`prefer`), so a memo keyed on too little answers wrongly.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OsInfo, Package } from '../../../src/core/inventory.js';
import type { SeveritySourceKind } from '../../../src/core/finding.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';

const FIXTURES = path.resolve('test/fixtures/vulndb/osv');

/** (binary name, source name) pairs of Debian packages with fixture advisories, and versions around their fixes. */
const DEB = [['libexpat1', 'expat'], ['expat', undefined], ['libssl3', 'openssl'], ['openssl', undefined], ['apache2-bin', 'apache2'], ['imagemagick', undefined], ['postgresql-15', undefined]] as const;
const DEB_VERSIONS = ['2.5.0-1', '2.5.0-1+b1', '2.4.54-1', '3.0.11-1~deb12u2', '15.13-0+deb12u1', '8:6.9.11.60+dfsg-1.6', '0', 'not a version'];
const NPM = ['lodash', 'adm-zip', 'minimist', 'bassmaster', 'left-pad'];
const NPM_VERSIONS = ['4.17.4', '4.17.15', '4.17.21', '0.4.7', '0.4.9', '1.2.0', '0.0.1', 'x.y'];
const OSES: Array<OsInfo | undefined> = [{ id: 'debian', versionId: '12' }, { id: 'debian', versionId: '11' }, { id: 'ubuntu', versionId: '22.04' }, undefined];
const PREFER: Array<readonly SeveritySourceKind[] | undefined> = [undefined, ['advisory', 'nvd'], ['nvd', 'vendor', 'advisory', 'osv']];

const place = fc.record({
  path: fc.constantFrom('/var/lib/dpkg/status', '/app/node_modules/x/package.json', '/srv/a/package.json', ''),
  layer: fc.constantFrom(undefined, '', 'sha256:1111111111111111111111111111111111111111111111111111111111111111', 'sha256:2222222222222222222222222222222222222222222222222222222222222222'),
  purl: fc.constantFrom('', 'pkg:deb/debian/x@1', 'pkg:npm/x@1'),
  platform: fc.constantFrom(undefined, '', 'linux/amd64', 'linux/arm64'),
});

const debPackage = fc.record({
  which: fc.nat(DEB.length - 1),
  ecosystem: fc.constantFrom('Debian', 'Ubuntu', 'Alpine', 'debian'),
  version: fc.constantFrom(...DEB_VERSIONS),
  sourceVersion: fc.constantFrom(undefined, '', ...DEB_VERSIONS.slice(0, 4)),
  noSource: fc.boolean(),
  place,
}).map(({ which, ecosystem, version, sourceVersion, noSource, place: at }): Package => {
  const [name, sourceName] = DEB[which];
  const p: Package = { ecosystem, name, version, purl: at.purl, path: at.path, analyzer: 'os/dpkg' };
  if (sourceName && !noSource) p.sourceName = sourceName;
  if (sourceVersion !== undefined) p.sourceVersion = sourceVersion;
  if (at.layer !== undefined) p.layer = at.layer as Package['layer'];
  if (at.platform !== undefined) p.platform = at.platform;
  return p;
});

const npmPackage = fc.record({
  name: fc.constantFrom(...NPM),
  ecosystem: fc.constantFrom('npm', 'PyPI', 'crates.io'),
  version: fc.constantFrom(...NPM_VERSIONS),
  ownedBy: fc.constantFrom(undefined, '', 'node-lodash'),
  place,
}).map(({ name, ecosystem, version, ownedBy, place: at }): Package => {
  const p: Package = { ecosystem, name, version, purl: at.purl, path: at.path, analyzer: 'lang/npm' };
  if (ownedBy !== undefined) p.ownedBy = ownedBy;
  if (at.layer !== undefined) p.layer = at.layer as Package['layer'];
  if (at.platform !== undefined) p.platform = at.platform;
  return p;
});

/** A field a package may differ in from another one of the same call sequence. */
const MUTATIONS = ['sourceName', 'sourceVersion', 'version', 'name', 'ecosystem', 'ownedBy', 'path', 'layer', 'purl', 'platform'] as const;

/** `p` with one field changed (each change one the memo must tell apart, or one it must not care about). */
function mutate(p: Package, m: (typeof MUTATIONS)[number], k: number): Package {
  const q: Package = { ...p };
  switch (m) {
    case 'sourceName': if (q.sourceName) delete q.sourceName; else q.sourceName = ['expat', 'openssl', 'apache2'][k % 3]; break;
    case 'sourceVersion': if (q.sourceVersion) delete q.sourceVersion; else q.sourceVersion = DEB_VERSIONS[k % 4]; break;
    case 'version': q.version = (q.analyzer === 'os/dpkg' ? DEB_VERSIONS : NPM_VERSIONS)[k % 5]; break;
    case 'name': q.name = q.analyzer === 'os/dpkg' ? DEB[k % DEB.length][0] : NPM[k % NPM.length]; break;
    case 'ecosystem': q.ecosystem = ['Debian', 'Ubuntu', 'npm', 'PyPI'][k % 4]; break;
    case 'ownedBy': if (q.ownedBy) delete q.ownedBy; else q.ownedBy = 'node-lodash'; break;
    case 'path': q.path = ['/var/lib/dpkg/status', '/app/node_modules/x/package.json', ''][k % 3]; break;
    case 'layer': if (q.layer) delete q.layer; else q.layer = 'sha256:3333333333333333333333333333333333333333333333333333333333333333' as Package['layer']; break;
    case 'purl': q.purl = q.purl ? '' : 'pkg:generic/x@1'; break;
    case 'platform': if (q.platform) delete q.platform; else q.platform = ['linux/amd64', 'linux/arm64'][k % 2]; break;
  }
  return q;
}

/**
 * A sequence of match calls: inventories of packages drawn from a small pool (images share packages),
 * each as drawn or with one field changed, on an OS (mostly Debian 12, where the fixture advisories
 * apply), with a prefer order.
 */
const calls = fc.record({
  pool: fc.array(fc.oneof(debPackage, debPackage, npmPackage), { minLength: 1, maxLength: 4 }),
  calls: fc.array(fc.record({
    packages: fc.array(fc.record({ from: fc.nat(), change: fc.option(fc.constantFrom(...MUTATIONS), { freq: 2 }), k: fc.nat(11) }), { maxLength: 8 }),
    os: fc.oneof(fc.constant(0), fc.nat(OSES.length - 1)),
    prefer: fc.nat(PREFER.length - 1),
  }), { minLength: 1, maxLength: 10 }),
}).map(({ pool, calls: cs }) => cs.map((c) => ({
  packages: c.packages.map(({ from, change, k }) => (change ? mutate(pool[from % pool.length], change, k) : pool[from % pool.length])),
  os: c.os,
  prefer: c.prefer,
})));

describe('vulndb match memo', function () {
  this.timeout(300_000);
  let tmp: string;
  let db: VulnDb;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-match-memo-'));
    await updateDb({ path: path.join(tmp, 'vulndb.sqlite'), sources: [FIXTURES] });
    db = VulnDb.open(path.join(tmp, 'vulndb.sqlite'));
  });
  after(() => {
    db?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('gives every call the findings matching its inventory alone gives (same fields, order and text)', () => {
    let hits = 0;
    fc.assert(
      fc.property(calls, (seq) => {
        const memo = db.matchMemo();
        // each inventory matched twice, the second time after the others: the memo is warm then
        for (const c of [...seq, ...seq]) {
          const opts = PREFER[c.prefer] ? { prefer: PREFER[c.prefer] } : {};
          // copies: the memo must not depend on the package objects it saw
          const plain = db.match(structuredClone(c.packages), OSES[c.os], opts);
          const memoised = db.match(structuredClone(c.packages), OSES[c.os], { ...opts, memo });
          expect(JSON.stringify(memoised)).to.equal(JSON.stringify(plain));
          expect(memoised).to.deep.equal(plain);
          hits += plain.length;
        }
      }),
      { numRuns: 300 },
    );
    // the generated inventories are not all clean: findings were compared
    expect(hits).to.be.greaterThan(100);
  });

  it('property: hostile field values (prototype names, case and space variants, empty strings, non-strings) get the findings of a call without the memo', () => {
    // values an inventory stored from a crafted image (or an SBOM) may hold: names that are Object.prototype
    // keys, spellings that differ only in case, whitespace or a leading `v`, empty strings against absent
    // fields, and numbers where strings belong (JSON allows them; a Map key 1 is not '1')
    // Each field's variants, the first of each a value fixture advisories match (Debian 12 or npm).
    const VARIANTS: Record<string, unknown[]> = {
      ecosystem: ['Debian', 'npm', 'debian', 'DEBIAN', 'Debian:12', 'NPM', ' npm', '__proto__', ''],
      name: ['libexpat1', 'lodash', 'Lodash', 'lodash ', 'expat', 'Expat', '__proto__', 'constructor', ''],
      version: ['2.5.0-1', '4.17.4', '2.5.0-1 ', 'v4.17.4', '4.17.4 ', '04.17.4', '2.5.0-1+b1', '', 4.17, '3.0.11-1~deb12u2'],
      sourceName: [undefined, 'expat', 'Expat', 'expat ', '', '__proto__', 0],
      sourceVersion: [undefined, '2.5.0-1', '2.5.0-1 ', '', '__proto__', 0],
      ownedBy: [undefined, '', 'x', 0],
      path: ['/var/lib/dpkg/status', '__proto__', '', 'constructor'],
      purl: ['', '__proto__', 'pkg:npm/lodash@4.17.4', 0],
      layer: [undefined, '', '__proto__', 'sha256:1111111111111111111111111111111111111111111111111111111111111111', 0],
      platform: [undefined, '', '__proto__', 'linux/amd64'],
    };
    const FIELDS = Object.keys(VARIANTS);
    const BASES: Array<Record<string, unknown>> = [
      { ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1', sourceName: 'expat', path: '/var/lib/dpkg/status', purl: '', analyzer: 'os/dpkg' },
      { ecosystem: 'npm', name: 'lodash', version: '4.17.4', path: '/app/package.json', purl: '', analyzer: 'lang/npm' },
      { ecosystem: 'Debian', name: 'libssl3', version: '3.0.11-1~deb12u2', sourceName: 'openssl', path: '/var/lib/dpkg/status', purl: '', analyzer: 'os/dpkg' },
    ];
    // a package: one of a few matching ones with up to two fields set to a variant (often one that differs
    // from it only in case, space or type), so a sequence holds near-twins the memo must tell apart
    const pkg = fc.record({
      base: fc.nat(BASES.length - 1),
      changes: fc.array(fc.record({ field: fc.nat(FIELDS.length - 1), v: fc.nat(20) }), { maxLength: 2 }),
    }).map(({ base, changes }) => {
      const p: Record<string, unknown> = { ...BASES[base] };
      for (const { field, v } of changes) {
        const k = FIELDS[field];
        const x = VARIANTS[k][v % VARIANTS[k].length];
        if (x === undefined) delete p[k];
        else p[k] = x;
      }
      return p as unknown as Package;
    });
    let hits = 0;
    fc.assert(
      fc.property(fc.array(fc.record({ packages: fc.array(pkg, { maxLength: 6 }), os: fc.oneof(fc.constant(0), fc.nat(OSES.length - 1)) }), { minLength: 1, maxLength: 6 }), (seq) => {
        const memo = db.matchMemo();
        for (const c of [...seq, ...seq]) {
          // a value a plain match throws on is thrown on with the memo too (and leaves nothing behind)
          let plain: unknown;
          let memoised: unknown;
          try {
            plain = JSON.stringify(db.match(structuredClone(c.packages), OSES[c.os]));
          } catch (e) {
            plain = `throws ${(e as Error).constructor.name}`;
          }
          try {
            memoised = JSON.stringify(db.match(structuredClone(c.packages), OSES[c.os], { memo }));
          } catch (e) {
            memoised = `throws ${(e as Error).constructor.name}`;
          }
          expect(memoised).to.equal(plain);
          if (typeof plain === 'string' && plain.startsWith('[{')) hits++;
        }
      }),
      { numRuns: 400 },
    );
    expect(hits).to.be.greaterThan(100);
  });

  it('hands the same finding objects to packages at the same place, and keeps one entry per distinct package', () => {
    const memo = db.matchMemo();
    const libexpat = (at: string): Package => ({ ecosystem: 'Debian', name: 'libexpat1', version: '2.5.0-1', sourceName: 'expat', purl: '', path: at, analyzer: 'os/dpkg' });
    const bookworm = { id: 'debian', versionId: '12' };
    const a = db.match([libexpat('/var/lib/dpkg/status')], bookworm, { memo });
    const b = db.match([libexpat('/var/lib/dpkg/status')], bookworm, { memo });
    const c = db.match([libexpat('/other/status')], bookworm, { memo });
    expect(a.length).to.be.greaterThan(0);
    a.forEach((f, i) => expect(b[i]).to.equal(f));
    expect(c[0]).to.not.equal(a[0]);
    expect(c.map((f) => f.path)).to.deep.equal(a.map(() => '/other/status'));
    expect(memo.size).to.equal(1);
  });

  it('refuses a memo made for another database', async () => {
    const other = VulnDb.open(path.join(tmp, 'vulndb.sqlite'));
    try {
      expect(() => db.match([], undefined, { memo: other.matchMemo() })).to.throw(/database it was made for/);
    } finally {
      other.close();
    }
  });
});
