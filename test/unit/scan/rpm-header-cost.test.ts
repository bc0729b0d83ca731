/**
 * RPM header blobs cost linear work and bounded memory in the pusher's bytes: only the tags read
 * are parsed, once each. The reading is the same as parsing every index entry in order (the
 * reference below, the previous reading) on generated headers whose entries overlap, repeat tags,
 * mix types and point anywhere.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { parseRpmHeader } from '../../../src/scan/analyzers/rpm-header.js';

const TAGS = [1000, 1001, 1002, 1003, 1011, 1014, 1022, 1027, 1044, 1116, 1117, 1118, 5096, 1004, 1005];
const TYPES = [4, 6, 8, 9, 3, 7];

/** The reference: every entry parsed in index order, a later entry of a tag replacing an earlier one. */
function reference(blob: Buffer) {
  const il = blob.readUInt32BE(0);
  const dl = blob.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  const strings = new Map<number, string[]>();
  const ints = new Map<number, number[]>();
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = blob.readUInt32BE(e);
    const type = blob.readUInt32BE(e + 4);
    const off = blob.readInt32BE(e + 8);
    const count = blob.readUInt32BE(e + 12);
    if (off < 0 || off >= dl) continue;
    const p = dataStart + off;
    if (type === 6 || type === 8 || type === 9) {
      const n = type === 6 ? 1 : count;
      const out: string[] = [];
      let q = p;
      for (let k = 0; k < n && q < dataStart + dl; k++) {
        const z = blob.indexOf(0, q);
        const end = z < 0 || z > dataStart + dl ? dataStart + dl : z;
        out.push(blob.toString('utf8', q, end));
        q = end + 1;
      }
      strings.set(tag, out);
    } else if (type === 4) {
      const out: number[] = [];
      for (let k = 0; k < count && p + k * 4 + 4 <= dataStart + dl; k++) out.push(blob.readInt32BE(p + k * 4));
      ints.set(tag, out);
    }
  }
  const s = (t: number) => strings.get(t)?.[0];
  let files: string[] = [];
  const base = strings.get(1117);
  const dirs = strings.get(1118);
  const idx = ints.get(1116);
  if (base && dirs && idx) files = base.map((b, i) => `${dirs[idx[i]] ?? ''}${b}`);
  else if (strings.get(1027)) files = strings.get(1027)!;
  return {
    name: s(1000) ?? '', version: s(1001) ?? '', release: s(1002) ?? '', epoch: ints.get(1003)?.[0],
    arch: s(1022), sourceRpm: s(1044), modularityLabel: s(5096), license: s(1014), vendor: s(1011), files,
  };
}

function header(entries: Array<{ tag: number; type: number; off: number; count: number }>, data: Buffer): Buffer {
  const b = Buffer.alloc(8 + entries.length * 16 + data.length);
  b.writeUInt32BE(entries.length, 0);
  b.writeUInt32BE(data.length, 4);
  entries.forEach((x, i) => {
    const e = 8 + i * 16;
    b.writeUInt32BE(x.tag, e); b.writeUInt32BE(x.type, e + 4); b.writeInt32BE(x.off, e + 8); b.writeUInt32BE(x.count, e + 12);
  });
  data.copy(b, 8 + entries.length * 16);
  return b;
}

describe('scan: rpm header reading cost', function () {
  this.timeout(60_000);

  it('reads what parsing every entry in order reads (fast-check)', () => {
    const data = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0x2f, max: 0x7a }), fc.integer({ min: 0, max: 255 })), { maxLength: 96 }).map((a) => Buffer.from(a));
    const entry = fc.record({ tag: fc.constantFrom(...TAGS), type: fc.constantFrom(...TYPES), off: fc.integer({ min: -2, max: 100 }), count: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constant(0xffffffff)) });
    fc.assert(fc.property(fc.array(entry, { maxLength: 24 }), data, (entries, d) => {
      const blob = header(entries, d);
      expect(parseRpmHeader(blob)).to.deep.equal(reference(blob));
    }), { numRuns: 2000 });
  });

  it('100,000 string-array entries of count 2^32 over one MiB read within 5 s (hours before)', () => {
    const entries = Array.from({ length: 100_000 }, (_, i) => ({ tag: 5000 + i, type: 8, off: 0, count: 0xffffffff }));
    // the read tags among them too, each many times
    for (let i = 0; i < 1000; i++) entries[i * 100] = { tag: TAGS[i % 13], type: i % 2 ? 8 : 4, off: 0, count: 0xffffffff };
    // a thousand strings of a KiB: each entry parsed would copy the whole MiB again
    const data = Buffer.alloc(2 ** 20, 0x61);
    for (let i = 1023; i < data.length; i += 1024) data[i] = 0;
    const blob = header(entries, data);
    const t = process.hrtime.bigint();
    const h = parseRpmHeader(blob);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    expect(h.name).to.equal('a'.repeat(1023));
    expect(ms).to.be.below(5000);
  });

  it('a header naming more than four million strings is refused, not held', () => {
    const blob = header([{ tag: 1027, type: 8, off: 0, count: 0xffffffff }], Buffer.alloc(5 * 2 ** 20));
    expect(() => parseRpmHeader(blob)).to.throw(/more than 4000000 strings/);
  });
});
