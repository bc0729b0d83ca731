/**
 * Most findings come from one record: the matcher builds those through oneRecordFinding (src/vulndb/db.ts),
 * which must give the object the general rule (recordsFinding) gives, field for field and in the same key
 * order (reports serialize findings as they are).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Package } from '../../../src/core/inventory.js';
import { type Hit, oneRecordFinding, recordsFinding, type RecordInfo } from '../../../src/vulndb/db.js';
import { comparatorFor } from '../../../src/vulndb/ecosystems/index.js';
import type { SeverityInfo } from '../../../src/vulndb/severity.js';
import { SEVERITY_SOURCES } from '../../../src/core/finding.js';

const sev = fc.oneof(
  fc.constant<SeverityInfo>({ severity: 'unknown', source: 'none' }),
  fc.constant<SeverityInfo>({ severity: 'high', cvss: { score: 8.2, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:N', version: '3.1' }, source: 'CVSS_V3' }),
  fc.constant<SeverityInfo>({ severity: 'medium', source: 'database_specific.severity' }),
  fc.constant<SeverityInfo>({ severity: 'critical', cvss: { score: 9.8, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', version: '3.1' }, source: 'CVSS_V3' }),
);
const id = fc.constantFrom('GHSA-aaaa', 'CVE-2024-1', 'CVE-2024-2', 'DEBIAN-CVE-2024-1', 'b', 'A');
const text = fc.option(fc.constantFrom('', 'a summary', '2024-01-01T00:00:00Z', '2023-05-05T00:00:00Z'), { nil: null });
const record = fc.record({
  id,
  aliases: fc.array(id, { maxLength: 4 }),
  summary: text,
  published: text,
  modified: text,
  own: sev,
  best: fc.option(fc.record({ sev, id }), { nil: undefined }),
  vendor: fc.option(sev, { nil: undefined }),
  nvd: fc.option(sev, { nil: undefined }),
  kev: fc.option(fc.constant({ cve: 'CVE-2024-1', dateAdded: '2024-01-02', dueDate: '2024-01-23', knownRansomwareCampaignUse: 'Unknown' }), { nil: undefined }),
  epss: fc.option(fc.record({ cve: fc.constant('CVE-2024-2'), score: fc.constantFrom(0, 0.5, 1), percentile: fc.constantFrom(0, 0.9) }), { nil: undefined }),
  urgency: fc.option(fc.constantFrom('', 'low', 'high'), { nil: null }),
}).map((r): RecordInfo => {
  const enrich = r.nvd || r.kev || r.epss ? { ...(r.nvd ? { nvd: { ...r.nvd, cve: 'CVE-2024-1' } } : {}), ...(r.kev ? { kev: r.kev } : {}), ...(r.epss ? { epss: r.epss } : {}) } : undefined;
  return {
    id: r.id, aliases: r.aliases, summary: r.summary, published: r.published, modified: r.modified, own: r.own,
    best: r.best ?? { sev: r.own, id: r.id }, vendor: r.vendor, enrich, urgency: r.urgency,
  };
});
const pkg = fc.record({
  ecosystem: fc.constantFrom('npm', 'Debian'),
  name: fc.constantFrom('lodash', 'libssl3'),
  version: fc.constantFrom('1.0.0', '1.0-1'),
  path: fc.constantFrom('/app/node_modules/lodash/package.json', '/var/lib/dpkg/status'),
  purl: fc.constantFrom('', 'pkg:npm/lodash@1.0.0'),
  layer: fc.option(fc.constant('sha256:' + 'a'.repeat(64)), { nil: undefined }),
  platform: fc.option(fc.constant('linux/amd64'), { nil: undefined }),
}).map((p) => ({ ...p, analyzer: 'test' }) as Package);
const prefer = fc.shuffledSubarray([...SEVERITY_SOURCES]);
const fixed = fc.uniqueArray(fc.constantFrom('1.0.1', '1.2.0', '2.0.0', '1.10.0', '0.9.0'), { maxLength: 4 });

describe('vulndb: a one-record finding is the finding the general rule makes', () => {
  it('on generated records, packages, fixed versions and severity orders (property)', () => {
    const cmp = comparatorFor('npm');
    fc.assert(
      fc.property(record, pkg, fixed, fc.constantFrom('lodash', 'openssl'), fc.constantFrom('1.0.0', '1.0.1'), prefer, (rec, p, fx, advisoryName, version, order) => {
        const hit = (): Hit => ({ entry: { rec, rid: 1, release: '', compiled: { ranges: [] } }, fixed: [...fx] });
        const general = recordsFinding([hit()], p, advisoryName, version, cmp, order);
        // twice: the second reads what the record keeps from the first
        for (let i = 0; i < 2; i++) {
          const fast = oneRecordFinding(hit(), p, advisoryName, version, cmp, order);
          expect(fast).to.deep.equal(general);
          expect(JSON.stringify(fast)).to.equal(JSON.stringify(general));
          expect(fast.aliases).to.not.equal(general.aliases);
        }
        // the same record under another severity order (what it keeps from the first is for that order only)
        const other = [...order].reverse();
        expect(oneRecordFinding(hit(), p, advisoryName, version, cmp, other)).to.deep.equal(recordsFinding([hit()], p, advisoryName, version, cmp, other));
      }),
      { numRuns: 2000 },
    );
  });
});
