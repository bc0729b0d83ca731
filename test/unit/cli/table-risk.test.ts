/**
 * `--format table` in risk order: packages by their highest-risk finding and findings within a package
 * by KEV, then EPSS, then CVSS (compareRisk), each marked `KEV`, `EPSS <score>` and `[<severity source>]`;
 * end-of-life findings in their own section. Findings as the matcher builds them (fields of real records:
 * DEBIAN-CL-CVE-2023-44487 on nginx-common, NVD's CVSS of CVE-2023-44487 and CVE-2026-8376).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { renderTable } from '../../../src/cli/render.js';
import { compareRisk, type Finding, type ScanReport } from '../../../src/core/index.js';

const base = (over: Partial<Finding>): Finding => ({
  id: 'X', aliases: [], ecosystem: 'Debian', package: 'p', installedVersion: '1', fixedVersions: ['2'], severity: 'unknown', path: '/var/lib/dpkg/status', ...over,
});

const nginx = base({
  id: 'DEBIAN-CL-CVE-2023-44487', aliases: ['CVE-2023-44487'], package: 'nginx-common', installedVersion: '1.22.1-9+deb12u9', fixedVersions: ['1.22.1-9+deb12u11'],
  severity: 'high', cvss: { score: 7.5, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', version: '3.1' }, severitySource: 'NVD CVSS_V3.1 CVE-2023-44487',
  severities: [{ source: 'nvd', from: 'NVD CVSS_V3.1 CVE-2023-44487', severity: 'high', cvss: { score: 7.5, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', version: '3.1' } }],
  kev: { cve: 'CVE-2023-44487', dateAdded: '2023-10-10', dueDate: '2023-10-31', knownRansomwareCampaignUse: 'Unknown' },
  epss: { cve: 'CVE-2023-44487', score: 0.5, percentile: 0.9 },
});
const perl = base({
  id: 'DEBIAN-CL-CVE-2026-8376', aliases: ['CVE-2026-8376'], package: 'perl-base', installedVersion: '5.36.0-7+deb12u3', fixedVersions: ['5.36.0-7+deb12u4'],
  severity: 'critical', cvss: { score: 9.8, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', version: '3.1' }, severitySource: 'NVD CVSS_V3.1 CVE-2026-8376',
  severities: [{ source: 'nvd', from: 'NVD CVSS_V3.1 CVE-2026-8376', severity: 'critical' }],
});
const unknown = base({ id: 'DEBIAN-CL-CVE-2026-109518', aliases: ['CVE-2026-109518'], package: 'apt', installedVersion: '2.6.1', severitySource: 'none' });

function report(findings: Finding[]): ScanReport {
  return {
    target: 'oci:x', packages: [], findings, secrets: [], config: [], diagnostics: [], complete: true, scannedAt: '2026-12-05T00:00:00Z',
    verdict: { decision: 'allow', reasons: [], policy: { name: 'p', revision: 'r' }, complete: true },
    eol: [{ id: 'os-eol', product: 'debian', cycle: '12', codename: 'Bookworm', version: '12', via: 'os-release', eol: '2026-07-11', extendedSupportUntil: '2028-06-30', inExtendedSupport: true }],
  };
}

describe('cli: table in risk order with exploitation and severity-source marks', () => {
  it('the KEV finding leads although another is critical; marks and the end-of-life section are shown', () => {
    const lines = renderTable(report([unknown, perl, nginx])).split('\n');
    const pkgRows = lines.filter((l) => /^(nginx-common|perl-base|apt) /.test(l)).map((l) => l.split(' ')[0]);
    expect(pkgRows).to.deep.equal(['nginx-common', 'perl-base', 'apt']);
    expect(lines.find((l) => l.includes('DEBIAN-CL-CVE-2023-44487'))).to.match(/^ {4}HIGH +DEBIAN-CL-CVE-2023-44487 +1\.22\.1-9\+deb12u11 +KEV EPSS 0\.500 \[nvd\] CVE-2023-44487$/);
    expect(lines.find((l) => l.includes('DEBIAN-CL-CVE-2026-8376'))).to.match(/ \[nvd\] CVE-2026-8376$/);
    expect(lines.find((l) => l.includes('DEBIAN-CL-CVE-2026-109518'))).to.match(/ {2}CVE-2026-109518$/);
    const at = lines.indexOf('END OF LIFE');
    expect(at).to.be.greaterThan(0);
    expect(lines[at + 1]).to.equal('  os-eol       debian 12 (Bookworm) (os-release): regular support ended 2026-07-11; extended support until 2028-06-30');
  });

  it('the base section names the base when the catalog named it, and says "base image" once when not', () => {
    const r = report([{ ...perl, origin: 'base' }, { ...unknown, origin: 'app' }]);
    const heading = (x: ScanReport) => renderTable(x).split('\n').find((l) => l.startsWith('VULNERABILITIES FROM THE BASE IMAGE'));
    const found: NonNullable<ScanReport['bases']>[number] = { platform: 'linux/amd64', method: 'history', layers: [`sha256:${'a'.repeat(64)}`], tags: [], note: 'guessed from the image history' };
    expect(heading({ ...r, bases: [found] })).to.equal('VULNERABILITIES FROM THE BASE IMAGE (1)');
    expect(heading({ ...r, bases: [{ ...found, method: 'chain', repository: 'lab/debian', tags: ['12.0'] }] })).to.equal('VULNERABILITIES FROM THE BASE IMAGE lab/debian:12.0 (1)');
  });

  it('compareRisk is a total order: KEV before not, then higher EPSS, then higher CVSS (property)', () => {
    const arb = fc.record({
      kev: fc.boolean(), epss: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }), cvss: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: undefined }), id: fc.string({ maxLength: 4 }),
    }).map((x) => base({
      id: x.id,
      ...(x.kev ? { kev: { cve: 'CVE-1', dateAdded: '2024-01-01', dueDate: '2024-01-21', knownRansomwareCampaignUse: 'Unknown' } } : {}),
      ...(x.epss !== undefined ? { epss: { cve: 'CVE-1', score: x.epss, percentile: 0.5 } } : {}),
      ...(x.cvss !== undefined ? { cvss: { score: x.cvss, vector: 'v', version: '3.1' } } : {}),
    }));
    fc.assert(fc.property(fc.array(arb, { maxLength: 30 }), (fs) => {
      const sorted = [...fs].sort(compareRisk);
      for (let i = 1; i < sorted.length; i++) {
        const [a, b] = [sorted[i - 1], sorted[i]];
        if (!!a.kev !== !!b.kev) expect(!!a.kev).to.equal(true);
        else if ((a.epss?.score ?? -1) !== (b.epss?.score ?? -1)) expect(a.epss?.score ?? -1).to.be.greaterThan(b.epss?.score ?? -1);
        else expect(a.cvss?.score ?? -1).to.be.at.least(b.cvss?.score ?? -1);
      }
    }));
  });
});
