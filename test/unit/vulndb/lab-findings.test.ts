/**
 * "The lab images' findings match what the data says": the lab images are scanned with the real
 * scanner (src/scan/engine.ts) and matched against the index built from test/fixtures/vulndb/osv;
 * every finding is then checked against an independent computation from the fixture records:
 * - Debian (debian-minbase:bookworm): for each installed binary package, its source package and
 *   source version, the record's `fixed` version, and `dpkg --compare-versions` of this machine as the
 *   oracle (not pushgate's comparator);
 * - npm (node-app:vuln, adm-zip:0.4.7): node-semver `satisfies` on the record's original
 *   `vulnerable_versions` range (kept in `database_specific` by the conversion), not the OSV events.
 * Both directions are checked: every expected (package, record) pair is found, and nothing else is.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import semver from 'semver';
import type { Package } from '../../../src/core/inventory.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { updateDb, VulnDb, type VulnFinding } from '../../../src/vulndb/index.js';
import { labOci } from '../../helpers/lab.js';

const FIXTURES = path.resolve('test/fixtures/vulndb/osv');

interface FixtureRecord {
  id: string;
  affected: Array<{
    package: { ecosystem: string; name: string };
    ranges: Array<{ type: string; events: Array<Record<string, string>> }>;
    database_specific?: { vulnerable_versions?: string; conversion_inexact?: boolean };
  }>;
}

function records(dir: string): FixtureRecord[] {
  return fs.readdirSync(path.join(FIXTURES, dir)).map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURES, dir, f), 'utf8')) as FixtureRecord);
}

/** `dpkg --compare-versions a lt b`, memoized (the oracle). */
const dpkgLt = (() => {
  const memo = new Map<string, boolean>();
  return (a: string, b: string): boolean => {
    const key = `${a} ${b}`;
    let r = memo.get(key);
    if (r === undefined) {
      const p = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]);
      if (p.status !== 0 && p.status !== 1) throw new Error(`dpkg --compare-versions ${a} lt ${b}: ${p.stderr.toString()}`);
      r = p.status === 0;
      memo.set(key, r);
    }
    return r;
  };
})();

/** (binary package, record id) pairs of the findings on packages of one ecosystem. */
function pairs(findings: VulnFinding[], ecosystem: string): string[] {
  return findings.filter((f) => f.ecosystem.toLowerCase() === ecosystem).flatMap((f) => f.records.map((id) => `${f.package}@${f.installedVersion} ${id}`)).sort();
}

describe('vulndb: lab image findings against the fixture data', function () {
  this.timeout(120000);
  let tmp: string;
  let db: VulnDb;

  before(async function () {
    if (spawnSync('dpkg', ['--version']).status !== 0) throw new Error('dpkg is needed as the Debian version oracle');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-vulndb-lab-'));
    const p = path.join(tmp, 'vulndb.sqlite');
    await updateDb({ path: p, sources: [FIXTURES] });
    db = VulnDb.open(p);
  });
  after(() => {
    db?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('debian-minbase:bookworm: every Debian finding, and only those, is what dpkg says about the source versions', async () => {
    const scan = await scanTarget(labOci('debian-minbase', 'bookworm'));
    const inv = scan.platforms[0].inventory;
    expect(inv.os?.id).to.equal('debian');
    const debs = inv.packages.filter((p) => p.ecosystem.toLowerCase().startsWith('debian'));
    expect(debs.length).to.be.greaterThan(50);
    const findings = db.match(inv.packages, inv.os);

    // the oracle: each record is `introduced 0, fixed F` for one source package of Debian:12
    const bySource = new Map<string, Array<{ id: string; fixed: string }>>();
    for (const r of records('debian-bookworm')) {
      for (const a of r.affected) {
        expect(a.package.ecosystem, r.id).to.equal('Debian:12');
        const events = a.ranges.flatMap((x) => x.events);
        const fixed = events.filter((e) => e.fixed !== undefined).map((e) => e.fixed);
        expect(events.filter((e) => e.introduced !== undefined).map((e) => e.introduced), r.id).to.deep.equal(['0']);
        expect(fixed, r.id).to.have.length(1);
        const list = bySource.get(a.package.name) ?? [];
        list.push({ id: r.id, fixed: fixed[0] });
        bySource.set(a.package.name, list);
      }
    }
    const expected: string[] = [];
    const fixedOf = new Map<string, string>();
    for (const p of debs) {
      const src = p.sourceName || p.name;
      const srcVersion = p.sourceVersion || p.version.replace(/\+b\d+$/, '');
      for (const r of bySource.get(src) ?? []) {
        if (!dpkgLt(srcVersion, r.fixed)) continue;
        expected.push(`${p.name}@${p.version} ${r.id}`);
        fixedOf.set(`${p.name} ${r.id}`, r.fixed);
      }
    }
    expected.sort();
    expect(expected.length, 'the image is old enough to be affected by some records').to.be.greaterThan(20);
    expect(pairs(findings, 'debian')).to.deep.equal(expected);
    for (const f of findings.filter((x) => x.ecosystem.toLowerCase() === 'debian')) {
      expect(f.fixedVersions, `${f.package} ${f.id}`).to.deep.equal([fixedOf.get(`${f.package} ${f.id}`)]);
      expect(f.severity, 'changelog data has no rating: urgency is never a severity').to.equal('unknown');
      expect(f.urgency, `${f.package} ${f.id}`).to.be.a('string');
      expect(f.advisoryPackage ?? f.package).to.equal(debs.find((p) => p.name === f.package)?.sourceName || f.package);
    }
  });

  for (const [image, tag] of [['node-app', 'vuln'], ['adm-zip', '0.4.7']]) {
    it(`${image}:${tag}: every npm finding, and only those, is what node-semver says about the original ranges`, async () => {
      const scan = await scanTarget(labOci(image, tag));
      const inv = scan.platforms[0].inventory;
      const npmPkgs = inv.packages.filter((p: Package) => p.ecosystem === 'npm');
      expect(npmPkgs.length).to.be.greaterThan(0);
      const findings = db.match(inv.packages, inv.os);
      const expected: string[] = [];
      let inexact = 0;
      for (const r of records('npm')) {
        const a = r.affected[0];
        const range = a.database_specific?.vulnerable_versions;
        if (!range) continue;
        for (const p of npmPkgs) {
          if (p.name !== a.package.name || p.ownedBy) continue;
          if (a.database_specific?.conversion_inexact) inexact++;
          if (semver.satisfies(p.version, range, { loose: true })) expected.push(`${p.name}@${p.version} ${r.id}`);
        }
      }
      expect(inexact, 'no record with an inexact conversion concerns these packages').to.equal(0);
      expected.sort();
      expect(pairs(findings, 'npm')).to.deep.equal(expected);
      if (image === 'adm-zip') expect(expected).to.deep.equal(['adm-zip@0.4.7 NSWG-NPM-458']);
      else expect(expected.some((x) => x.startsWith('lodash@4.17.15 '))).to.equal(true);
    });
  }
});
