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
import { junk, osvRecordAnyOrder } from './osv-arbitraries.js';

const record = osvRecordAnyOrder;
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
