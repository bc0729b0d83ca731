import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding } from '../../../src/core/index.js';
import { diffFindings } from '../../../src/monitor/index.js';

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
