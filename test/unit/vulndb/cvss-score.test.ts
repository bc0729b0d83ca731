/**
 * CVSS scoring goes through ae-cvss-calculator; for CVSS 4.0 src/vulndb/severity.ts asks it for the overall
 * score alone. These properties hold that to the score the library's full `calculateScores()` reports.
 */
import { createRequire } from 'node:module';
import { expect } from 'chai';
import fc from 'fast-check';
import { scoreCvss } from '../../../src/vulndb/severity.js';

type Ctor = new (v: string) => { calculateScores(): { base?: number; overall?: number } };
const lib = createRequire(import.meta.url)('ae-cvss-calculator') as Record<string, Ctor>;

/** The score as `calculateScores()` gives it (base, else overall). */
function fullScore(ctor: Ctor, vector: string): number | undefined {
  const s = new ctor(vector).calculateScores();
  return s.base ?? s.overall;
}

// CVSS 4.0 metrics and values (https://www.first.org/cvss/v4.0/specification-document, section 7)
const BASE: Array<[string, string[]]> = [
  ['AV', ['N', 'A', 'L', 'P']], ['AC', ['L', 'H']], ['AT', ['N', 'P']], ['PR', ['N', 'L', 'H']], ['UI', ['N', 'P', 'A']],
  ['VC', ['H', 'L', 'N']], ['VI', ['H', 'L', 'N']], ['VA', ['H', 'L', 'N']], ['SC', ['H', 'L', 'N']], ['SI', ['H', 'L', 'N']], ['SA', ['H', 'L', 'N']],
];
const OPTIONAL: Array<[string, string[]]> = [
  ['E', ['A', 'P', 'U']], ['CR', ['H', 'M', 'L']], ['IR', ['H', 'M', 'L']], ['AR', ['H', 'M', 'L']], ['MAV', ['N', 'A', 'L', 'P']],
  ['MAC', ['L', 'H']], ['MPR', ['N', 'L', 'H']], ['MVC', ['H', 'L', 'N']], ['MSI', ['S', 'H', 'L', 'N']], ['S', ['N', 'P']], ['U', ['Clear', 'Red']],
];

const v4Vector = fc
  .tuple(
    fc.tuple(...BASE.map(([, values]) => fc.constantFrom(...values))),
    fc.array(fc.tuple(fc.constantFrom(...OPTIONAL.keys()), fc.nat()), { maxLength: 4 }),
  )
  .map(([base, extra]) => {
    const parts = BASE.map(([m], i) => `${m}:${base[i]}`);
    const seen = new Set<number>();
    for (const [k, n] of extra.sort((a, b) => a[0] - b[0])) {
      if (seen.has(k)) continue;
      seen.add(k);
      const [m, values] = OPTIONAL[k];
      parts.push(`${m}:${values[n % values.length]}`);
    }
    return `CVSS:4.0/${parts.join('/')}`;
  });

describe('vulndb CVSS scoring', () => {
  it('a CVSS 4.0 vector scores what calculateScores() reports for it, threat and environmental metrics included (property)', () => {
    fc.assert(
      fc.property(v4Vector, (vector) => {
        const r = scoreCvss(vector);
        expect(r?.version).to.equal('4.0');
        expect(r?.score, vector).to.equal(fullScore(lib.Cvss4P0, vector));
      }),
      { numRuns: 60 },
    );
  });

  it('scores the CVSS 4.0 vectors of real advisories as calculateScores() does', () => {
    // from records of the shared vulnerability data (../shared/vulndata), the last two with a threat metric
    for (const vector of [
      'CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:N/VI:H/VA:L/SC:H/SI:H/SA:H',
      'CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H',
      'CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:A/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N',
      'CVSS:4.0/AV:N/AC:H/AT:P/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N/E:U',
      'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:N/SI:N/SA:N/E:P',
    ]) {
      expect(scoreCvss(vector)?.score, vector).to.equal(fullScore(lib.Cvss4P0, vector));
    }
  });
});
