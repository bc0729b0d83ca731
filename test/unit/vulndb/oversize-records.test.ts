/**
 * A record file bigger than one OSV record can reasonably be (MAX_RECORD_BYTES) is reported and
 * skipped, and every other record of its source still imports. Before, a 612 KB zip whose one entry
 * inflated to 600 MiB of spaces threw ERR_STRING_TOO_LONG out of the zip reader's stream event and
 * ended the whole process (the import, or the server running it). The entry here is just over the
 * limit (the smallest input of that class); the oversized entry sits between two good ones, in a
 * zip and in a folder source.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { MAX_RECORD_BYTES, readFileCapped } from '../../../src/vulndb/sources.js';
import { makeZip } from './zip.js';

const record = (id: string, name: string) => JSON.stringify({
  id, modified: '2024-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] }],
});

/** A well-formed record padded with spaces to `bytes`. */
function padded(bytes: number): Buffer {
  const head = Buffer.from(record('BIG-1', 'big-pkg'));
  const out = Buffer.alloc(bytes, 0x20);
  head.copy(out, 0);
  return out;
}

describe('vulndb import: a record file over the size limit', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-osv-oversize-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const matches = (dbPath: string, name: string) => {
    const db = VulnDb.open(dbPath);
    try {
      return db.match([{ ecosystem: 'npm', name, version: '1.0.0', purl: '', path: '/x', analyzer: 't' }]).map((m) => m.id);
    } finally {
      db.close();
    }
  };

  for (const kind of ['zip', 'folder'] as const) {
    it(`${kind}: the oversized file is a bad record naming the limit; the records around it import`, async () => {
      const big = padded(MAX_RECORD_BYTES + 1);
      let src: string;
      if (kind === 'zip') {
        src = path.join(tmp, 'all.zip');
        fs.writeFileSync(src, makeZip({ 'A.json': record('GOOD-1', 'good-a'), 'B.json': big, 'C.json': record('GOOD-2', 'good-c') }));
      } else {
        src = fs.mkdtempSync(path.join(tmp, 'dir-'));
        fs.writeFileSync(path.join(src, 'A.json'), record('GOOD-1', 'good-a'));
        fs.writeFileSync(path.join(src, 'B.json'), big);
        fs.writeFileSync(path.join(src, 'C.json'), record('GOOD-2', 'good-c'));
      }
      const dbPath = path.join(tmp, `${kind}.sqlite`);
      const st = await updateDb({ path: dbPath, sources: [src] });
      expect(st.imported).to.equal(2);
      expect(st.badRecords).to.have.length(1);
      expect(st.badRecords[0]!.file).to.match(/B\.json$/);
      expect(st.badRecords[0]!.error).to.equal(`${MAX_RECORD_BYTES + 1} bytes is over the ${MAX_RECORD_BYTES}-byte limit of one OSV record file (file skipped)`);
      expect(matches(dbPath, 'good-a')).to.deep.equal(['GOOD-1']);
      expect(matches(dbPath, 'good-c')).to.deep.equal(['GOOD-2']);
    });
  }

  it('a record file of exactly the limit still imports', async () => {
    const src = path.join(tmp, 'edge.zip');
    fs.writeFileSync(src, makeZip({ 'B.json': padded(MAX_RECORD_BYTES) }));
    const dbPath = path.join(tmp, 'edge.sqlite');
    const st = await updateDb({ path: dbPath, sources: [src] });
    expect(st.badRecords).to.deep.equal([]);
    expect(matches(dbPath, 'big-pkg')).to.deep.equal(['BIG-1']);
  });
});

describe('vulndb: readFileCapped (the folder import\'s read, one reused buffer, no stat)', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-capped-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads what readFileSync reads, or only the size over the limit, whatever the size and the files read before', () => {
    // sizes around the reused buffer (1 MiB) and a small limit; UTF-8 text, sometimes cut mid-character
    const text = fc.string({ unit: fc.constantFrom('a', 'é', '\u{1F600}', '\n', ' '), maxLength: 40 });
    const size = fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: (1 << 20) - 8, max: (1 << 20) + 8 }), fc.integer({ min: 2 << 20, max: 3 << 20 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(text, size), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3 << 20 }), (files, max) => {
        for (const [t, n] of files) {
          const unit = Buffer.from(t || 'x');
          const data = Buffer.alloc(n);
          for (let i = 0; i < n; i += unit.length) unit.copy(data, i);
          const f = path.join(tmp, 'f.json');
          fs.writeFileSync(f, data);
          const r = readFileCapped(f, max);
          if (n > max) expect(r).to.deep.equal({ size: n });
          else expect(r.text === fs.readFileSync(f, 'utf8'), `${n} bytes, limit ${max}`).to.equal(true);
        }
      }),
      { numRuns: 40 },
    );
  });
  it('throws the fs error for a file that does not exist', () => {
    expect(() => readFileCapped(path.join(tmp, 'missing.json'))).to.throw(/ENOENT/);
  });
});
