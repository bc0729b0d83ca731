import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding, Package, ScanReport } from '../../../src/core/index.js';
import { diffFindings, imageIndexOf, rejudgedIndexOf } from '../../../src/monitor/index.js';
import type { ImageScan } from '../../../src/scan/engine.js';
import { digestOf, scanOf } from '../../helpers/monitor.js';

/**
 * A finding list as the matcher makes it: per package instance, at most one finding per vulnerability
 * (records naming each other are grouped), its primary id any of the vulnerability's ids.
 */
const VULNS = [['A-1', 'CVE-1'], ['A-2', 'CVE-2', 'GHSA-2'], ['A-3']];
const findings = fc
  .uniqueArray(
    fc.record({ pkg: fc.constantFrom('lodash', 'adm-zip'), version: fc.constantFrom('1.0.0', '2.0.0'), vuln: fc.nat(VULNS.length - 1), primary: fc.nat(2), severity: fc.constantFrom('low', 'high') }),
    { selector: (x) => `${x.pkg}|${x.version}|${x.vuln}`, maxLength: 8 },
  )
  .map((xs) =>
    xs.map((x): Finding => {
      const ids = VULNS[x.vuln];
      const id = ids[x.primary % ids.length];
      return { id, aliases: ids.filter((i) => i !== id), ecosystem: 'npm', package: x.pkg, installedVersion: x.version, fixedVersions: [], severity: x.severity, path: `/app/node_modules/${x.pkg}/package.json` };
    }),
  );

describe('monitor: finding diffs', () => {
  it('property: a list against itself is no change; new one way is resolved the other way', () => {
    fc.assert(
      fc.property(findings, findings, (a, b) => {
        const same = diffFindings(a, a);
        expect(same.new).to.deep.equal([]);
        expect(same.resolved).to.deep.equal([]);
        const ab = diffFindings(a, b);
        const ba = diffFindings(b, a);
        expect(ab.new).to.deep.equal(ba.resolved);
        expect(ab.resolved).to.deep.equal(ba.new);
        expect(ab.severityChanged.length).to.equal(ba.severityChanged.length);
      }),
    );
  });

  it('a finding that gains an alias or a new primary id is the same vulnerability; a re-rating is reported', () => {
    const base: Finding = { id: 'DSA-1', aliases: ['CVE-1'], ecosystem: 'Debian', package: 'openssl', installedVersion: '3.0.1', fixedVersions: [], severity: 'medium', path: '/var/lib/dpkg/status' };
    const d = diffFindings([base], [{ ...base, id: 'CVE-1', aliases: ['DSA-1', 'GHSA-9'], severity: 'critical' }]);
    expect(d.new).to.deep.equal([]);
    expect(d.resolved).to.deep.equal([]);
    expect(d.severityChanged).to.deep.equal([{ id: 'CVE-1', package: 'openssl', installedVersion: '3.0.1', before: 'medium', after: 'critical' }]);
    const other = diffFindings([base], [{ ...base, installedVersion: '3.0.2' }]);
    expect(other.new).to.have.length(1);
    expect(other.resolved).to.have.length(1);
  });
});

describe('monitor: index of a re-judged image', () => {
  /** Packages of one platform: npm ones (some owned by an OS package) and Debian binaries of sources. */
  const pkgs = fc.uniqueArray(
    fc.record({ kind: fc.constantFrom('npm', 'deb', 'owned'), name: fc.constantFrom('lodash', 'adm-zip', 'openssl', 'libssl3', 'zlib1g'), version: fc.constantFrom('1.0.0', '2.0.0'), src: fc.constantFrom('openssl', 'zlib', '') }),
    { selector: (x) => `${x.kind}|${x.name}|${x.version}`, maxLength: 8 },
  ).map((xs) => xs.map((x): Package => (x.kind === 'deb'
    ? { ecosystem: 'deb', name: x.name, version: x.version, purl: `pkg:deb/debian/${x.name}@${x.version}`, path: '/var/lib/dpkg/status', analyzer: 'os/dpkg', ...(x.src ? { sourceName: x.src } : {}) }
    : { ecosystem: 'npm', name: x.name, version: x.version, purl: `pkg:npm/${x.name}@${x.version}`, path: `/app/node_modules/${x.name}/package.json`, analyzer: 'lang/npm', ...(x.kind === 'owned' ? { ownedBy: 'nodejs' } : {}) })));
  const scanArb = fc.array(pkgs, { minLength: 1, maxLength: 2 }).map((platforms) => ({
    ...scanOf(digestOf(1), []),
    platforms: platforms.map((packages, i) => ({ ...scanOf(digestOf(1), packages).platforms[0], platform: `linux/arch${i}` })),
  }));
  /** Findings on some of a scan's package instances (platform-tagged on a multi-platform scan, as judged). */
  const findingsOn = (scan: ImageScan, pick: boolean[], id: string): Finding[] => {
    const multi = scan.platforms.length > 1;
    let n = 0;
    return scan.platforms.flatMap((p) => p.inventory.packages.flatMap((x) => (pick[n++ % pick.length]
      ? [{ id, aliases: [], ecosystem: x.ecosystem, package: x.name, installedVersion: x.version, fixedVersions: [], severity: 'high', path: x.path, ...(multi ? { platform: p.platform } : {}) } as Finding]
      : [])));
  };
  const reportOf = (findings: Finding[]) => ({ findings, packages: [], vulndb: { builtAt: null, digest: 'sha256:db' } }) as unknown as ScanReport;

  it('property: files findings under the same pairs as a full index of the scan, from any previous index', () => {
    fc.assert(
      fc.property(scanArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), (scan, before, after) => {
        const previous = imageIndexOf(digestOf(1), scan, reportOf(findingsOn(scan, before, 'A-1')), 1).findings;
        const report = reportOf([...findingsOn(scan, after, 'A-1'), ...findingsOn(scan, after.map((x) => !x), 'A-2')]);
        const full = imageIndexOf(digestOf(1), scan, report, 2);
        const quick = rejudgedIndexOf(digestOf(1), scan, report, 2, previous);
        expect(quick.findings).to.deep.equal(full.findings);
        expect(quick.packages).to.equal(undefined);
        expect(quick.vulndbDigest).to.equal(full.vulndbDigest);
      }),
    );
  });
});
