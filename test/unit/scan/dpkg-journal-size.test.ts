/**
 * A dpkg journal file (/var/lib/dpkg/updates/NNNN) is read under the status file's stanza limit: a
 * pusher's journal of hundreds of thousands of stanzas, none naming a package, is refused (the scan
 * incomplete), not read whole and passed as holding nothing.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { dpkgAnalyzer } from '../../../src/scan/analyzers/dpkg.js';
import type { AnalyzerOutput } from '../../../src/scan/analyzers/types.js';

const analyze = (text: string) => dpkgAnalyzer.analyze!({ path: '/var/lib/dpkg/updates/0001', size: text.length, mode: 0o644, content: Buffer.from(text) }, { tmpDir: '/nonexistent' } as never) as AnalyzerOutput | undefined;

describe('dpkg journal: the stanza limit', () => {
  it('past 500,000 stanzas without a package, whatever their fields: incomplete (property)', function () {
    this.timeout(120_000);
    fc.assert(fc.property(fc.constantFrom('aa:b\n\n', 'Xx: y\n\n', 'Description: d\n z\n\n'), fc.integer({ min: 500_001, max: 520_000 }), (stanza, n) => {
      const out = analyze(stanza.repeat(n));
      expect(out?.diagnostics?.some((d) => d.code === 'dpkg-ambiguous' && d.incomplete)).to.equal(true);
    }), { numRuns: 3 });
  });

  it('an empty journal reports nothing; stanzas without a package (dpkg refuses them) are refused', () => {
    expect(analyze('')).to.equal(undefined);
    expect(analyze('aa:b\n\n'.repeat(10))?.diagnostics?.[0]?.code).to.equal('dpkg-ambiguous');
  });
});
