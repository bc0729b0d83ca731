/**
 * A status.d file of the 64 MiB the packagedb limit admits, made of two-line stanzas, is 2.3 million
 * records: the parser built every one (some 1.1 GB and 15 s) before the walker dropped them as more than
 * the 500,000 package records it judges for a layer. Reading stops past that many stanzas, and the
 * scan is incomplete as before.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { parseDpkgStatus, parseStanzas } from '../../../src/scan/analyzers/dpkg.js';

describe('dpkg status: a file of more stanzas than a layer may yield package records', () => {
  it('stops past 500,000 stanzas: 500,001 records at most, and not judged', function () {
    this.timeout(60_000);
    const n = 600_000;
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) parts[i] = `Package: p${i}\nVersion: 1\n\n`;
    const text = parts.join('');
    const r = parseDpkgStatus(text, '/var/lib/dpkg/status.d/x', true);
    expect(r.packages.length).to.equal(500_001);
    expect(r.ambiguous.join()).to.contain('more than 500000 stanzas');
  });

  it('under a stanza limit, the first stanzas are read as without one, and the limit is said (fast-check)', () => {
    const STANZA = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,4}$/), fc.constantFrom('', 'Version: 1.0\n', 'Status: install ok installed\n'));
    fc.assert(fc.property(fc.array(STANZA, { maxLength: 12 }), fc.constantFrom('\n', '\n\n', '\n \n'), fc.nat(12), (stanzas, gap, k) => {
      const text = stanzas.map(([p, rest]) => `Package: ${p}\n${rest}`).join(gap);
      const all = parseStanzas(text, []);
      const problems: string[] = [];
      const some = parseStanzas(text, problems, k);
      expect(some).to.deep.equal(all.slice(0, Math.min(all.length, k + 1)));
      const said = problems.some((p) => p.startsWith('more than'));
      // past the limit it is said; within it, never (at exactly one over, it depends on whether an empty line follows)
      if (all.length > k + 1) expect(said, JSON.stringify(text)).to.equal(true);
      if (all.length <= k) expect(said, JSON.stringify(text)).to.equal(false);
    }), { numRuns: 300 });
  });
});
