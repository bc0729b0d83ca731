/**
 * The import reads each parsed record once into a fixed-shape copy (osv.ts readImportRecord) and rates it
 * with severity.ts recordRating (a rating with `cvss` always present). These properties hold both to what
 * the import read before, straight from the parsed record: checkRecord's problem, sanitizeRecord's notes,
 * the fields the import uses with the same values, the same rating and vendor rating, and the same stored
 * JSON text of the rating, for generated records with every field of every JSON type.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { checkAffected, checkRecord, type ImportRecord, type OsvRecord, readImportRecord, sanitizeRecord } from '../../../src/vulndb/osv.js';
import { recordRating, recordSeverity, vendorSeverity } from '../../../src/vulndb/severity.js';

const CVSS = ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'AV:N/AC:L/Au:N/C:P/I:P/A:P', 'not a vector', ''];
const WORDS = ['low', 'Moderate', 'HIGH', 'important', 'critical', 'negligible', 'unknown', ''];
/** Any JSON value, shallow. */
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 4 }), fc.constant([]), fc.constant({}), fc.constant([1, 'a']));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const sevEntry = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constantFrom('CVSS_V3', 'CVSS_V4', 'CVSS_V2', 'Ubuntu'), score: fc.oneof(fc.constantFrom(...CVSS), fc.constantFrom(...WORDS)) }) },
  { weight: 1, arbitrary: fc.record({ score: fc.constantFrom(...WORDS), type: fc.constant('Ubuntu'), extra: junk }) },
  { weight: 1, arbitrary: junk },
);
const sevList = fc.oneof({ weight: 5, arbitrary: fc.array(sevEntry, { maxLength: 3 }) }, { weight: 1, arbitrary: junk });
const specific = fc.oneof({ weight: 4, arbitrary: fc.record({ severity: maybe(fc.oneof(fc.constantFrom(...WORDS), junk)), urgency: maybe(fc.oneof(fc.string({ maxLength: 4 }), junk)), other: maybe(junk) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: junk });
const event = fc.oneof(fc.record({ introduced: fc.constantFrom('0', '1.0') }), fc.record({ fixed: fc.constantFrom('1.1', '3') }), junk);
const range = fc.oneof({ weight: 4, arbitrary: fc.record({ type: fc.constantFrom('ECOSYSTEM', 'SEMVER', 'GIT'), events: fc.array(event, { maxLength: 3 }) }) }, { weight: 1, arbitrary: fc.record({ type: maybe(junk), events: maybe(junk) }, { requiredKeys: [] }) });
const pkg = fc.oneof({ weight: 4, arbitrary: fc.record({ name: maybe(fc.oneof(fc.string({ maxLength: 5 }), junk)), ecosystem: maybe(fc.oneof(fc.constantFrom('npm', 'Debian:12', 'Alpine:v3.20'), junk)), purl: maybe(fc.string({ maxLength: 5 })) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: junk });
const affected = fc.oneof(
  { weight: 6, arbitrary: fc.record({ package: maybe(pkg), severity: maybe(sevList), ranges: maybe(fc.oneof(fc.array(range, { maxLength: 3 }), junk)), versions: maybe(fc.oneof(fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 }), fc.array(junk, { maxLength: 2 }), junk)), ecosystem_specific: maybe(specific), database_specific: maybe(specific) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: junk },
);
const ids = fc.oneof({ weight: 4, arbitrary: fc.array(fc.constantFrom('CVE-2024-1', 'GHSA-x', 'DSA-1'), { maxLength: 3 }) }, { weight: 1, arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 3 }), junk), { maxLength: 3 }) }, { weight: 1, arbitrary: junk });
const text = fc.oneof({ weight: 4, arbitrary: fc.string({ maxLength: 6 }) }, { weight: 1, arbitrary: junk });
/** Records with every field of every JSON type, their fields in any order, well-formed most of the time. */
const record = fc.record({
  id: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('GHSA-1', 'CVE-2024-2', 'DSA-3') }, { weight: 1, arbitrary: junk }),
  published: maybe(text), modified: maybe(text), withdrawn: maybe(text), summary: maybe(text), details: maybe(text),
  aliases: maybe(ids), upstream: maybe(ids), related: maybe(ids),
  severity: maybe(sevList),
  database_specific: maybe(specific),
  affected: maybe(fc.oneof({ weight: 6, arbitrary: fc.array(affected, { maxLength: 4 }) }, { weight: 1, arbitrary: junk })),
}, { requiredKeys: [] }).chain((r) => fc.shuffledSubarray(Object.keys(r), { minLength: Object.keys(r).length }).map((keys) => Object.fromEntries(keys.map((k) => [k, (r as Record<string, unknown>)[k]]))));
/** As JSON text gives it (no own property holding undefined). */
const parsed = fc.oneof({ weight: 8, arbitrary: record }, { weight: 1, arbitrary: junk }).map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown);

const nonEmpty = <T>(v: T[] | undefined): T[] | undefined => (v?.length ? v : undefined);

/** What the import read of a record before the copy: the checks in place on the parsed record, then its fields. */
function readInPlace(v: unknown): { problem: string } | { notes: string[]; rec: OsvRecord } {
  const problem = checkRecord(v);
  if (problem !== null) return { problem };
  const rec = v as OsvRecord;
  return { notes: sanitizeRecord(rec), rec };
}

describe('vulndb import: the fixed-shape copy of a record reads what the record says', () => {
  it('readImportRecord gives checkRecord\'s problem, sanitizeRecord\'s notes and the fields the import reads', () => {
    fc.assert(fc.property(parsed, (v) => {
      const notes: string[] = [];
      const got = readImportRecord(structuredClone(v), notes);
      const want = readInPlace(structuredClone(v));
      if ('problem' in want) {
        expect(got).to.equal(want.problem);
        expect(notes).to.deep.equal([]);
        return;
      }
      expect(got).to.be.an('object');
      const r = got as ImportRecord;
      const w = want.rec;
      expect(notes).to.deep.equal(want.notes);
      expect({ id: r.id, withdrawn: r.withdrawn, published: r.published, modified: r.modified, summary: r.summary, aliases: r.aliases, upstream: r.upstream })
        .to.deep.equal({ id: w.id, withdrawn: !!w.withdrawn, published: w.published ?? undefined, modified: w.modified ?? undefined, summary: w.summary ?? undefined, aliases: nonEmpty(w.aliases), upstream: nonEmpty(w.upstream) });
      const entries = w.affected ?? [];
      expect(r.affected).to.have.length(entries.length);
      entries.forEach((a, i) => {
        const malformed = checkAffected(a, i);
        const e = r.affected[i];
        expect(e.malformed).to.equal(malformed);
        expect(e.urgency).to.deep.equal(a.ecosystem_specific?.urgency);
        if (malformed !== null) return;
        expect({ ecosystem: e.ecosystem, name: e.name, ranges: e.ranges, versions: e.versions })
          .to.deep.equal({ ecosystem: a.package?.ecosystem, name: a.package?.name, ranges: nonEmpty(a.ranges), versions: nonEmpty(a.versions) });
      });
      // the ratings read from the copy are those read from the record
      expect(recordSeverity(r)).to.deep.equal(recordSeverity(w));
      for (const isOs of [true, false]) expect(vendorSeverity(r, isOs)).to.deep.equal(vendorSeverity(w, isOs));
    }), { numRuns: 5000 });
  });

  it('recordRating is recordSeverity with `cvss` always present, and is stored as the same JSON text', () => {
    fc.assert(fc.property(parsed, (v) => {
      if (checkRecord(v) !== null) return;
      const rec = v as OsvRecord;
      sanitizeRecord(rec);
      const rating = recordRating(rec);
      const sev = recordSeverity(rec);
      expect(Object.keys(rating)).to.deep.equal(['severity', 'cvss', 'source']);
      expect(JSON.stringify(rating)).to.equal(JSON.stringify(sev));
      expect(JSON.stringify({ ...rating, id: 'X' })).to.equal(JSON.stringify({ ...sev, id: 'X' }));
      expect(rating.cvss === undefined).to.equal(!('cvss' in sev));
    }), { numRuns: 3000 });
  });
});
