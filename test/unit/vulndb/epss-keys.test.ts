/**
 * src/vulndb/enrich/epss.ts reads the rows of an EPSS file by a number made of each row's CVE id, which
 * ids may share (ids 64 years or 2^24 sequence numbers apart, or spelled with leading zeros): a row whose
 * number matches a wanted id's is looked at as text, and kept only when its id is the wanted one.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { parseEpss } from '../../../src/vulndb/index.js';

const HEAD = '#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\n';

describe('vulndb EPSS rows read by key', () => {
  it('ids that share a wanted id\'s key are not taken for it; the wanted one is, with its own score', () => {
    const rows = ['CVE-1956-1,0.1,0.2', 'CVE-2020-16777217,0.3,0.4', 'CVE-2020-01,0.5,0.6', 'CVE-2084-1,0.7,0.8', 'CVE-2020-1,0.91234,0.99512', 'CVE-2021-2,1,1.000'];
    const d = parseEpss('e.csv', Buffer.from(`${HEAD}${rows.join('\n')}\n`), new Set(['CVE-2020-1']));
    expect(d.rows).to.equal(6);
    expect([...d.scores]).to.deep.equal([['CVE-2020-1', { score: 0.91234, percentile: 0.99512 }]]);
  });

  it('the scores kept for wanted ids are those of the file read without a wanted set, colliding ids among them (property)', () => {
    // years 64 apart and sequence numbers 2^24 apart share a key; leading zeros spell another id
    const id = fc.tuple(fc.constantFrom(1956, 1999, 2020, 2084), fc.constantFrom(1, 2, 16777217, 16777218, 44228), fc.boolean()).map(([y, n, zero]) => `CVE-${y}-${zero ? '0' : ''}${n}`);
    const num = fc.integer({ min: 0, max: 100000 }).map((n) => (n / 100000).toFixed(5));
    fc.assert(
      fc.property(fc.array(fc.tuple(id, num, num), { maxLength: 12 }), fc.array(id, { minLength: 1, maxLength: 4 }), fc.boolean(), (rows, wantedIds, endNl) => {
        const data = Buffer.from(`${HEAD}${rows.map((r) => r.join(',')).join('\n')}${endNl ? '\n' : ''}`);
        if (rows.length === 0) return;
        const wanted = new Set(wantedIds);
        const all = parseEpss('e.csv', data);
        const some = parseEpss('e.csv', data, wanted);
        expect(some.rows).to.equal(all.rows);
        expect([...some.scores]).to.deep.equal([...all.scores].filter(([k]) => wanted.has(k)));
      }),
      { numRuns: 300 },
    );
  });
});
