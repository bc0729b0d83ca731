/**
 * The `--group-issues` grouping (src/cli/report-views.ts): findings of one vulnerability under
 * different record ids (a distribution's record and a GHSA, both aliasing one CVE) are one entry, and
 * over generated findings every finding lands in exactly one group whose ids it shares.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { groupIssues } from '../../../src/cli/report-views.js';
import type { Finding, Severity } from '../../../src/core/index.js';

function finding(id: string, aliases: string[], pkg: string, severity: Severity = 'medium'): Finding {
  return { id, aliases, ecosystem: 'npm', package: pkg, installedVersion: '1.0.0', fixedVersions: ['1.0.1'], severity, path: `/app/node_modules/${pkg}/package.json` };
}

describe('cli: --group-issues grouping', () => {
  it('records that alias one CVE are one vulnerability, named by the lowest id; the highest severity wins', () => {
    const g = groupIssues([
      finding('GHSA-aaaa-bbbb-cccc', ['CVE-2024-1'], 'b', 'high'),
      finding('NSWG-NPM-9', ['cve-2024-1'], 'a', 'low'),
      finding('NSWG-NPM-10', [], 'c'),
    ]);
    expect(g.map((x) => [x.id, x.severity, x.aliases, x.affects.map((a) => a.package)])).to.deep.equal([
      ['GHSA-aaaa-bbbb-cccc', 'high', ['CVE-2024-1', 'NSWG-NPM-9', 'cve-2024-1'], ['a', 'b']],
      ['NSWG-NPM-10', 'medium', [], ['c']],
    ]);
  });

  it('property: every finding is in exactly one group, and findings sharing an id are in the same group', () => {
    const id = fc.constantFrom('CVE-1', 'CVE-2', 'CVE-3', 'GHSA-1', 'GHSA-2', 'OSV-1', 'OSV-2', 'OSV-3');
    const arb = fc.array(fc.record({ id, aliases: fc.array(id, { maxLength: 2 }), pkg: fc.constantFrom('a', 'b', 'c') }), { maxLength: 12 });
    fc.assert(fc.property(arb, (xs) => {
      const fs = xs.map((x) => finding(x.id, x.aliases.filter((a) => a !== x.id), x.pkg));
      const groups = groupIssues(fs);
      expect(groups.reduce((n, g) => n + g.affects.length, 0)).to.equal(fs.length);
      const groupOf = (f: Finding) => groups.findIndex((g) => g.id === f.id || g.aliases.includes(f.id));
      for (const f of fs) expect(groupOf(f)).to.be.greaterThan(-1);
      for (const f of fs) for (const h of fs) {
        if ([f.id, ...f.aliases].some((x) => [h.id, ...h.aliases].includes(x))) expect(groupOf(f)).to.equal(groupOf(h));
      }
    }), { numRuns: 300 });
  });
});
