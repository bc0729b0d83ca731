/**
 * Berkeley DB and NDB rpm databases whose entries share their data: a real database stores each
 * header once, so a value's overflow pages belong to it alone and NDB blobs do not overlap. Shared
 * data was read and kept once per entry naming it (500,000 NDB slots naming one MiB blob, a hash page
 * of 30,000 items naming one overflow chain): now a parse error, with reads bounded by the file.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { readBdbBlobs, readNdbBlobs } from '../../../src/scan/analyzers/rpm-bdb.js';

const P = path.resolve('test/fixtures/scan/parsers/rpm');

describe('scan: rpm databases whose entries share data', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-rpm-shared-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const write = (b: Buffer) => { const f = path.join(tmp, `db${n++}`); fs.writeFileSync(f, b); return f; };

  it('NDB: slots naming another slot\'s blob are refused; the real database reads as before (fast-check over which slots)', () => {
    const real = fs.readFileSync(path.join(P, 'sle15-bci/Packages.db'));
    const want = readNdbBlobs(write(real));
    const used: number[] = [];
    const slotPages = real.readUInt32LE(12);
    for (let i = 0; i < slotPages * 256 - 2; i++) if (real.readUInt32LE(32 + i * 16 + 4) !== 0) used.push(i);
    expect(used.length).to.equal(want.length);
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: used.length - 1 }), { minLength: 2, maxLength: used.length }), (pick) => {
      const b = Buffer.from(real);
      const [first, ...rest] = pick.map((k) => 32 + used[k]! * 16);
      for (const o of rest) b.copy(b, o, first!, first! + 16);
      expect(() => readNdbBlobs(write(b))).to.throw(/shared between slots/);
    }), { numRuns: 30 });
  });

  it('NDB: 130,000 slots naming one 64 KiB blob are refused within the file\'s reads', () => {
    const slotPages = 512;
    const nslots = slotPages * 256 - 2;
    const blobAt = 32 + nslots * 16;
    const len = 64 * 1024;
    const b = Buffer.alloc(blobAt + 16 + len);
    b.writeUInt32LE(0x506d7052, 0); b.writeUInt32LE(slotPages, 12);
    for (let i = 0; i < nslots; i++) {
      const o = 32 + i * 16;
      b.writeUInt32LE(0x746f6c53, o); b.writeUInt32LE(7, o + 4); b.writeUInt32LE(blobAt / 16, o + 8); b.writeUInt32LE(len / 16 + 1, o + 12);
    }
    b.writeUInt32LE(0x53626c42, blobAt); b.writeUInt32LE(7, blobAt + 4); b.writeUInt32LE(len, blobAt + 12);
    expect(() => readNdbBlobs(write(b))).to.throw(/shared between slots/);
  });

  it('Berkeley DB: two items naming one overflow chain are refused; the real database reads as before', () => {
    const real = fs.readFileSync(path.join(P, 'libuuid/Packages'));
    expect(readBdbBlobs(write(real))).to.have.length(1);
    const pageSize = real.readUInt32LE(20);
    const lastPage = real.readUInt32LE(32);
    const b = Buffer.from(real);
    let done = false;
    for (let pg = 1; pg <= lastPage && !done; pg++) {
      const at = pg * pageSize;
      if (b[at + 25] !== 2 && b[at + 25] !== 13) continue;
      // a page of one key/value pair whose value lives on overflow pages (H_OFFPAGE)
      if (b.readUInt16LE(at + 20) !== 2 || b[at + b.readUInt16LE(at + 28)] !== 3) continue;
      // a second key/value pair whose item offsets are the first pair's
      b.writeUInt16LE(4, at + 20);
      b.copy(b, at + 26 + 4, at + 26, at + 26 + 4);
      done = true;
    }
    expect(done).to.equal(true);
    expect(() => readBdbBlobs(write(b))).to.throw(/part of another value/);
  });
});
