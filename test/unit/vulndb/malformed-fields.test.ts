/**
 * OSV records whose fields have the wrong JSON type: each repair or skip is reported, never thrown, and
 * the rest of the source still imports and matches. Published feeds are written by many converters; one
 * bad record must not cost the advisories of every record after it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';

const SENTINEL = JSON.stringify({
  id: 'ZZZ-SENTINEL-1', modified: '2024-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name: 'sentinel-pkg' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] }],
});

/** Paths into a well-formed record whose value the generator replaces with arbitrary JSON. */
const FIELDS = [
  ['published'], ['modified'], ['withdrawn'], ['summary'], ['details'], ['upstream'], ['related'], ['severity'], ['database_specific'],
  ['affected', 0, 'package'], ['affected', 0, 'package', 'ecosystem'], ['affected', 0, 'package', 'name'], ['affected', 0, 'severity'],
  ['affected', 0, 'ecosystem_specific'], ['affected', 0, 'database_specific'], ['affected', 0, 'ranges', 0, 'events'],
  ['affected', 0, 'ranges', 0, 'events', 0], ['affected', 0, 'ranges', 0, 'events', 1, 'fixed'], ['affected', 0, 'versions'],
  ['severity', 0], ['severity', 0, 'score'], ['severity', 0, 'type'],
] as const;

function base(): Record<string, unknown> {
  return {
    id: 'BAD-1', modified: '2024-01-01T00:00:00Z', published: '2023-01-01T00:00:00Z', summary: 's', aliases: ['CVE-2099-0001'],
    upstream: ['CVE-2099-0002'], severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
    affected: [{ package: { ecosystem: 'npm', name: 'bad-pkg' }, versions: ['1.0.0'], ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.5.0' }] }] }],
  };
}

function setPath(obj: Record<string, unknown>, p: readonly (string | number)[], v: unknown): void {
  let cur: unknown = obj;
  for (const k of p.slice(0, -1)) cur = (cur as Record<string | number, unknown>)[k];
  (cur as Record<string | number, unknown>)[p[p.length - 1]] = v;
}

describe('vulndb import: fields of the wrong JSON type', function () {
  this.timeout(120000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-osv-fields-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a boolean "published" or an object "summary" is ignored with a note; the record still matches', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'src-'));
    const r = base();
    r.published = true;
    r.summary = { text: 'x' };
    fs.writeFileSync(path.join(dir, 'BAD-1.json'), JSON.stringify(r));
    fs.writeFileSync(path.join(dir, 'ZZZ.json'), SENTINEL);
    const p = path.join(dir, 'db.sqlite');
    const st = await updateDb({ path: p, sources: [dir] });
    expect(st.badRecords.map((b) => b.error).sort()).to.deep.equal(['BAD-1: "published" is not a string (ignored)', 'BAD-1: "summary" is not a string (ignored)']);
    const db = VulnDb.open(p);
    try {
      const ids = db.match([
        { ecosystem: 'npm', name: 'bad-pkg', version: '1.0.0', purl: '', path: '/x', analyzer: 't' },
        { ecosystem: 'npm', name: 'sentinel-pkg', version: '1.0.0', purl: '', path: '/y', analyzer: 't' },
      ]).map((f) => f.id).sort();
      expect(ids).to.deep.equal(['BAD-1', 'ZZZ-SENTINEL-1']);
    } finally {
      db.close();
    }
  });

  it('any JSON value in any field: the import finishes, names the record when it repairs or skips, and the next record imports', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 2 }), async (field, value) => {
        const dir = path.join(tmp, `prop-${n++}`);
        fs.mkdirSync(dir);
        const r = base();
        setPath(r, field, value);
        // the sentinel sorts after the bad record, so it is read after it
        fs.writeFileSync(path.join(dir, 'AAA-bad.json'), JSON.stringify(r));
        fs.writeFileSync(path.join(dir, 'ZZZ.json'), SENTINEL);
        const p = path.join(dir, 'db.sqlite');
        const st = await updateDb({ path: p, sources: [dir] });
        for (const b of st.badRecords) expect(b.error).to.match(/^BAD-1: /);
        const db = VulnDb.open(p);
        try {
          const ids = db.match([{ ecosystem: 'npm', name: 'sentinel-pkg', version: '1.0.0', purl: '', path: '/y', analyzer: 't' }]).map((f) => f.id);
          expect(ids).to.deep.equal(['ZZZ-SENTINEL-1']);
        } finally {
          db.close();
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 120 },
    );
  });
});
