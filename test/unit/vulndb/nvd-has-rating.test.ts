/**
 * The import counts the NVD records of CVEs no advisory names without scoring their vectors
 * (nvdHasRating); it must count exactly the records nvdRating rates, and fail where nvdRating fails.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { nvdHasRating, nvdRating } from '../../../src/vulndb/enrich/nvd.js';

const vector = fc.constantFrom(
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  'CVSS:3.0/AV:N/AC:H/PR:L/UI:R/S:C/C:L/I:N/A:N',
  'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
  'AV:N/AC:L/Au:N/C:P/I:P/A:P',
  'CVSS:3.1/AV:X',
  'garbage',
);
const metric = fc.oneof(
  fc.record({
    source: fc.option(fc.constantFrom('nvd@nist.gov', 'security@apache.org'), { nil: undefined }),
    type: fc.option(fc.constantFrom('Primary', 'Secondary', 'other'), { nil: undefined }),
    cvssData: fc.option(fc.record({
      version: fc.option(fc.constantFrom('3.1', '4.0', '2.0'), { nil: undefined }),
      vectorString: fc.option(fc.oneof(vector, fc.constant(7 as unknown as string)), { nil: undefined }),
      baseScore: fc.option(fc.oneof(fc.constantFrom(0, 5.3, 9.8), fc.constant('7.5' as unknown as number)), { nil: undefined }),
    }, { requiredKeys: [] }), { nil: undefined }),
  }, { requiredKeys: [] }),
  // shapes a damaged record could hold
  fc.constantFrom(null, 3, 'x', [] as unknown[]),
);
const list = fc.oneof(fc.array(metric, { maxLength: 3 }), fc.constantFrom(null, 5, 'abc', { a: 1 }));
const cve = fc.record({
  id: fc.constantFrom('CVE-2024-1234', 'CVE-1999-0001', 'GHSA-x', 42),
  lastModified: fc.option(fc.constant('2025-01-01T00:00:00.000'), { nil: undefined }),
  metrics: fc.option(fc.dictionary(fc.constantFrom('cvssMetricV40', 'cvssMetricV31', 'cvssMetricV30', 'cvssMetricV2', 'cvssMetricV5'), list), { nil: undefined }),
}, { requiredKeys: [] });

describe('vulndb NVD: nvdHasRating', () => {
  it('is true exactly when nvdRating rates the record, and throws where it throws (property)', () => {
    fc.assert(
      fc.property(cve, (c) => {
        const rec = c as Record<string, unknown>;
        let rated: boolean;
        try {
          rated = nvdRating(rec) !== undefined;
        } catch (err) {
          expect(() => nvdHasRating(rec)).to.throw((err as Error).constructor);
          return;
        }
        expect(nvdHasRating(rec)).to.equal(rated);
      }),
      { numRuns: 5000 },
    );
  });
});
