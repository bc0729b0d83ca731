/**
 * The `affected` rows `db update` stores, checked against the reference functions for each entry: the
 * ecosystem's base name in lower case, the release, the package name as normalizeName gives it, and the
 * stored text compileSerialized gives for the entry's evaluated ranges and its versions list. Generated
 * records mix every ecosystem kind (with and without versions lists, PyPI names to normalize, GIT ranges,
 * range lists the compile memo keys and ones it does not), over several sources, in any order: the import
 * builds each row from parts made at different times (the memo's compiled ranges while reading, the
 * versions and the name once a source is read), and every part must land on its own row.
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { comparatorFor, splitEcosystem } from '../../../src/vulndb/ecosystems/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { compileSerialized, type OsvRange } from '../../../src/vulndb/ranges.js';
import { normalizeName } from '../../../src/vulndb/schema.js';

const ECOSYSTEMS = ['PyPI', 'npm', 'Debian:12', 'Alpine:v3.19', 'Go', 'crates.io'];
const version = fc.constantFrom('0', '1.0', '1.2.3', '2.0.0-r1', '1:2.3-1', 'v1.0.0', '0.9');
// an event whose version is not a string: the memo cannot key such a list (compiled on its own)
const event = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(version.map((v) => ({ introduced: v })), version.map((v) => ({ fixed: v })), version.map((v) => ({ last_affected: v }))) },
  { weight: 1, arbitrary: fc.constant({ introduced: 1 }) },
);
const range = fc.record({ type: fc.constantFrom('ECOSYSTEM', 'SEMVER', 'GIT'), events: fc.array(event, { minLength: 1, maxLength: 3 }) });
const entry = fc.record({
  eco: fc.constantFrom(...ECOSYSTEMS),
  name: fc.constantFrom('Py_Pkg', 'py.pkg', 'lodash', 'openssl', 'X-Y'),
  ranges: fc.array(range, { maxLength: 2 }),
  versions: fc.array(version, { maxLength: 3 }),
});
const record = fc.record({ id: fc.string({ minLength: 1, maxLength: 4 }).map((s) => `ID-${s}`), affected: fc.array(entry, { minLength: 1, maxLength: 3 }) });

const EVALUATED = new Set(['ECOSYSTEM', 'SEMVER']);

describe('vulndb import: every stored affected row is built from its own entry', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-affected-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ecosystem, release, normalized name and stored text equal the reference for each entry (property)', async () => {
    const input = fc.tuple(fc.uniqueArray(record, { selector: (r) => r.id, minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 3 }));
    await fc.assert(fc.asyncProperty(input, async ([recs, nSources]) => {
      const run = fs.mkdtempSync(path.join(dir, 'run-'));
      // records spread over the sources in turn; each source's files named in import order
      const sources = Array.from({ length: nSources }, (_, i) => path.join(run, `src${i}`));
      for (const s of sources) fs.mkdirSync(s);
      const order: typeof recs = [];
      for (let s = 0; s < nSources; s++) {
        recs.forEach((r, i) => {
          if (i % nSources !== s) return;
          order.push(r);
          fs.writeFileSync(path.join(sources[s], `${String(i).padStart(3, '0')}.json`), JSON.stringify({
            id: r.id,
            affected: r.affected.map((a) => ({ package: { ecosystem: a.eco, name: a.name }, ranges: a.ranges, versions: a.versions })),
          }));
        });
      }
      // the rows each record should get, in order
      const want: unknown[] = [];
      let rid = 0;
      for (const r of order) {
        const rows: unknown[] = [];
        for (const a of r.affected) {
          const evaluated = a.ranges.filter((g) => EVALUATED.has(g.type)) as OsvRange[];
          if (!evaluated.length && !a.versions.length) continue;
          const { base, release } = splitEcosystem(a.eco);
          rows.push({ ecosystem: base.toLowerCase(), release, name: normalizeName(base, a.name), compiled: compileSerialized(evaluated, a.versions.length ? a.versions : undefined, comparatorFor(base)).json });
        }
        if (!rows.length) continue;
        rid++;
        for (const row of rows) want.push({ rid, ...(row as object) });
      }
      const out = path.join(run, 'v.sqlite');
      try {
        if (!want.length) {
          await updateDb({ path: out, sources }).then(() => expect.fail('an index was built from no rows'), () => undefined);
          return;
        }
        await updateDb({ path: out, sources });
        const db = new Database(out, { readonly: true });
        try {
          expect(db.prepare('SELECT rid, ecosystem, release, name, compiled FROM affected ORDER BY rowid').all()).to.deep.equal(want);
        } finally {
          db.close();
        }
      } finally {
        fs.rmSync(run, { recursive: true, force: true });
      }
    }), { numRuns: 200 });
  });
});
