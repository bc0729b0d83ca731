/**
 * The single-pass layer tar reader (tar-headers.ts GoTarReader, tar-walk.ts): every entry and every
 * data section as Go's archive/tar returns them, whatever the chunking of the stream; how a cut
 * stream ends; bytes after the end blocks; names kept byte for byte. Tars are written by tar-stream
 * (a real writer) or byte by byte where a writer would not produce the case.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Inventory } from '../../../src/core/index.js';
import type { Analyzer } from '../../../src/scan/analyzers/types.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { GoTarIndex, GoTarReader, isGoTarHeaderBlock, type GoTarEntry } from '../../../src/scan/tar-headers.js';
import { cleanEntryPath } from '../../../src/scan/walker.js';
import { gzLayer, makeTar, writeLayout, type TarEntry } from './layout-helper.js';
import { tarHeaderSums } from '../../helpers/tar-sums.js';

/** Every regular file as a package named by its path, its content as the version (empty: `-`). */
const everyFile: Analyzer = {
  name: 'test/every-file', version: 1, maxSize: 1 << 20,
  wants: () => true,
  analyze: (i) => ({ packages: [{ ecosystem: 'npm', name: i.path, version: i.content.toString('latin1') || '-', path: i.path, purl: 'pkg:generic/x' }] }),
};

/** Reads `tar` in chunks of the given sizes (cycled); returns the entries and each file's bytes. */
async function readAll(tar: Buffer, sizes: number[], wantBodies = true): Promise<{ entries: GoTarEntry[]; bodies: Map<number, Buffer>; reader: GoTarReader }> {
  const entries: GoTarEntry[] = [];
  const bodies = new Map<number, Buffer>();
  const reader = new GoTarReader((e) => {
    entries.push(e);
    if (!wantBodies) return undefined;
    const parts: Buffer[] = [];
    return {
      write: (c) => { parts.push(Buffer.from(c)); },
      // A body that makes the reader wait, as the analyzers do.
      end: () => new Promise<void>((resolve) => setImmediate(() => { bodies.set(e.headerOffset, Buffer.concat(parts)); resolve(); })),
    };
  });
  let k = 0;
  for (let i = 0; i < tar.length;) {
    const n = Math.max(1, sizes[k++ % sizes.length]!);
    await reader.write(tar.subarray(i, i + n));
    i += n;
  }
  return { entries, bodies, reader };
}

function header(name: string | Buffer, size: number, typeflag = '0'): Buffer {
  const b = Buffer.alloc(512);
  (typeof name === 'string' ? Buffer.from(name) : name).copy(b, 0, 0, 100);
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  b.write('14533616000\0', 136, 'latin1');
  b[156] = typeflag.charCodeAt(0);
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}
const pad = (d: Buffer): Buffer => Buffer.concat([d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
const member = (name: string | Buffer, data: Buffer, typeflag = '0'): Buffer => Buffer.concat([header(name, data.length, typeflag), pad(data)]);
const END = Buffer.alloc(1024);

describe('scan: the single-pass tar reader', function () {
  this.timeout(60_000);
  let tmp: string;
  let n = 0;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tar-reader-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function scan(tar: Buffer): Promise<Inventory> {
    const layout = path.join(tmp, `l${++n}`);
    writeLayout(layout, [gzLayer(tar)], { tag: 't' });
    return (await scanTarget(`oci:${layout}:t`, { analyzers: [everyFile], inflateWorker: 'never' })).platforms[0]!.inventory;
  }

  const entryArb = fc.oneof(
    fc.record({ kind: fc.constant('file' as const), name: fc.stringMatching(/^[a-z]{1,8}(\/[a-z]{1,8}){0,2}$/), size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 })), long: fc.boolean() }),
    fc.record({ kind: fc.constant('symlink' as const), name: fc.stringMatching(/^[a-z]{1,8}$/), size: fc.constant(0), long: fc.constant(false) }),
  );

  it('property: entries and file contents do not depend on how the stream is cut (200 runs)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(entryArb, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 6 }), async (spec, sizes) => {
      const entries: TarEntry[] = spec.map((s, i) => s.kind === 'symlink'
        ? { name: `l${i}-${s.name}`, type: 'symlink', linkname: 'target' }
        // Long names (over 100 bytes) make tar-stream write PAX headers.
        : { name: `${s.long ? 'd'.repeat(120) + '/' : ''}f${i}-${s.name}`, content: Buffer.alloc(s.size, 0x61 + (i % 26)) });
      const tar = await makeTar(entries);
      const whole = await readAll(tar, [tar.length]);
      const cut = await readAll(tar, sizes);
      expect(cut.entries).to.deep.equal(whole.entries);
      expect([...cut.bodies]).to.deep.equal([...whole.bodies]);
      expect(whole.entries.map((e) => e.name)).to.deep.equal(entries.map((e) => e.name));
      for (const [i, e] of whole.entries.entries()) {
        if (entries[i]!.type === 'symlink') continue;
        expect(whole.bodies.get(e.headerOffset), e.name).to.deep.equal(Buffer.from(entries[i]!.content!));
      }
      // The header-only index sees the same entries.
      const idx = new GoTarIndex();
      for (let i = 0; i < tar.length; i += 97) idx.write(tar.subarray(i, i + 97));
      for (const e of whole.entries) expect(idx.take(e.dataOffset)).to.deep.equal(e);
      expect(cut.reader.finish()).to.deep.equal({ cutInPadding: false });
      expect(cut.reader.endOffset).to.be.a('number');
    }), { numRuns: 200 });
  });

  it('a stream cut inside a header or an entry\'s data is truncated; inside the last padding or the end blocks it is not', async () => {
    const data = Buffer.alloc(700, 0x62);
    const tar = Buffer.concat([member('a', Buffer.from('x')), member('b', data), END]);
    const cutAt = async (at: number) => (await readAll(tar.subarray(0, at), [333])).reader.finish();
    expect((await cutAt(512 + 256)).truncated).to.equal(undefined); // in a's padding
    expect(await cutAt(512 + 256)).to.deep.equal({ cutInPadding: true });
    expect((await cutAt(1024 + 100)).truncated).to.match(/inside a header block at byte 1124/);
    expect((await cutAt(1536 + 600)).truncated).to.match(/inside the data of "b" \(100 of 700 bytes missing\)/);
    expect(await cutAt(1536 + 1024)).to.deep.equal({ cutInPadding: false }); // on a block boundary: Go's io.EOF
    expect(await cutAt(1536 + 1024 + 700)).to.deep.equal({ cutInPadding: true }); // inside the end blocks
    // Through the engine: a cut inside data is corrupt-layer (incomplete), entries before it kept.
    const inv = await scan(tar.subarray(0, 1536 + 600));
    expect(inv.diagnostics.find((d) => d.code === 'corrupt-layer')?.incomplete).to.equal(true);
    expect(inv.packages.map((p) => p.name)).to.deep.equal(['/a']);
  });

  it('bytes after the end-of-archive blocks are named (tar-after-end), not read; zero bytes there are no finding', async () => {
    const tail = await scan(Buffer.concat([member('a', Buffer.from('1')), END, member('a', Buffer.from('2')), END]));
    expect(tail.packages.map((p) => `${p.name}@${p.version}`)).to.deep.equal(['/a@1']);
    expect(tail.diagnostics.find((d) => d.code === 'tar-after-end')?.incomplete).to.equal(undefined);
    const zeros = await scan(Buffer.concat([member('a', Buffer.from('1')), END, Buffer.alloc(4096)]));
    expect(zeros.diagnostics.map((d) => d.code)).to.not.include('tar-after-end');
  });

  it('empty files reach the analyzers; a name starting with U+FEFF keeps it, as Go does', async () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('app/x')]);
    const inv = await scan(Buffer.concat([member('empty', Buffer.alloc(0)), member(bom, Buffer.from('v')), member('last', Buffer.alloc(0)), END]));
    expect(inv.packages.map((p) => `${p.name}@${p.version}`).sort()).to.deep.equal(['/empty@-', '/last@-', '/\ufeffapp/x@v']);
  });

  it('a symlink, hard link or device header with a size: read as Go reads it (no data), named as ambiguous', async () => {
    for (const type of ['1', '2', '3', '4', '6']) {
      const hidden = member('hidden', Buffer.from('h'));
      const inv = await scan(Buffer.concat([Buffer.concat([header('l', hidden.length, type), hidden]), END]));
      expect(inv.packages.map((p) => p.name), type).to.deep.equal(['/hidden']);
      expect(inv.diagnostics.find((d) => d.code === 'ambiguous-entry-name')?.incomplete, type).to.equal(true);
    }
  });
});

describe('scan: entry names cleaned as filepath.Clean and containerd RootPath do', () => {
  /** The rule written out plainly: split, drop empty and `.` segments, `..` pops (not above the root). */
  function model(name: string): { path: string; escapes: boolean } {
    const parts: string[] = [];
    let escapes = false;
    for (const seg of name.split('/')) {
      if (seg === '' || seg === '.') continue;
      if (seg === '..') {
        if (parts.length) parts.pop();
        else escapes = true;
      } else parts.push(seg);
    }
    return { path: `/${parts.join('/')}`, escapes };
  }

  it('property: cleanEntryPath equals the model for names made of `a`, `.`, `..`, `.wh.x`, `/` (2000 runs)', () => {
    const name = fc.array(fc.constantFrom('a', 'bc', '.', '..', '...', '.wh.x', '/', '//', './'), { maxLength: 10 }).map((xs) => xs.join(''));
    fc.assert(fc.property(name, (n) => {
      expect(cleanEntryPath(n), JSON.stringify(n)).to.deep.equal(model(n));
    }), { numRuns: 2000 });
    for (const n of ['./usr/bin/x', 'usr/', '/etc/.wh.a', './', '.', '..', '../x', 'a/../../b', './.hidden/..x/y']) expect(cleanEntryPath(n), n).to.deep.equal(model(n));
  });
});

describe('scan: the numeric header fields, as Go readHeader parses them', () => {
  /** Go's order of the numeric fields: size, mode, uid, gid, mtime, then (not V7) devmajor, devminor. */
  const FIELDS: Array<[string, number, number]> = [['size', 124, 136], ['mode', 100, 108], ['uid', 108, 116], ['gid', 116, 124], ['mtime', 136, 148], ['devmajor', 329, 337], ['devminor', 337, 345]];

  it('property: a header with fields that do not parse is refused naming the first of them in Go\'s order, V7 headers without the device fields; a good one keeps its size and mode', () => {
    const junk = fc.constantFrom('12x4567\0', '9\0\0\0\0\0\0\0', 'zz      ', '-1      ');
    fc.assert(fc.property(fc.array(fc.option(junk, { nil: undefined }), { minLength: 7, maxLength: 7 }), fc.boolean(), fc.integer({ min: 0, max: 4096 }), (bad, v7, size) => {
      const b = header('f', size);
      if (v7) b.fill(0, 257, 265);
      b.write('0000751\0', 100, 'latin1');
      FIELDS.forEach(([, from], i) => { if (bad[i] !== undefined) b.write(bad[i]!, from, 'latin1'); });
      b.fill(0x20, 148, 156);
      let sum = 0;
      for (const c of b) sum += c;
      b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      const entries: GoTarEntry[] = [];
      const reader = new GoTarReader((e) => { entries.push(e); return undefined; });
      void reader.write(Buffer.concat([b, Buffer.alloc(size + ((512 - (size % 512)) % 512)), END]));
      const first = FIELDS.findIndex(([, from], i) => bad[i] !== undefined && !(v7 && from >= 329));
      if (first < 0) {
        expect(reader.error).to.equal(undefined);
        expect(entries.map((e) => [e.size, e.mode])).to.deep.equal([[size, 0o751]]);
      } else {
        expect(entries).to.deep.equal([]);
        // Go parseOctal: the whole field trimmed of spaces and NULs at both ends, cut at its first NUL.
        const [, from, to] = FIELDS[first]!;
        const shown = b.toString('latin1', from, to).replace(/^[ \0]+|[ \0]+$/g, '').split('\0')[0];
        expect(reader.error?.reason, FIELDS[first]![0]).to.equal(`numeric field "${shown}" is not octal`);
      }
    }), { numRuns: 300 });
  });
});

describe('scan: the tar header checksum, as Go getFormat checks it', () => {
  /**
   * Go's rule written out plainly: the checksum field (bytes 148..156, trimmed of spaces and NULs,
   * cut at a NUL) parses as octal and equals the sum of the block's bytes, the field read as
   * spaces, taken unsigned or signed (int8).
   */
  function model(blk: Buffer): boolean {
    let s = blk.toString('latin1', 148, 156).replace(/^[ \0]+|[ \0]+$/g, '');
    const nul = s.indexOf('\0');
    if (nul >= 0) s = s.slice(0, nul);
    if (s !== '' && !/^[0-7]+$/.test(s)) return false;
    const stored = s === '' ? 0 : parseInt(s, 8);
    const { unsigned, signed } = tarHeaderSums(blk);
    return stored === unsigned || stored === signed;
  }

  it('property: a block is a header exactly when the model says so, over random bytes and checksum fields, at every alignment of its memory (3000 runs)', () => {
    // Bytes from the low or the high half (the signed sum differs only through bytes above 127), or
    // all 0xff (the largest sums), and a checksum field holding the unsigned sum, the signed sum, a
    // near miss or noise; after its NUL the field may hold bytes above 127 (they count in the sums
    // as spaces). The block starts 0 to 7 bytes into its memory: the sums are taken four bytes at a
    // time on a 4-byte boundary, byte by byte elsewhere.
    const block = fc.tuple(fc.uint8Array({ minLength: 512, maxLength: 512 }), fc.constantFrom(0x7f, 0xff, 'all'), fc.constantFrom('unsigned', 'signed', 'off-by-one', 'noise', 'spaces'), fc.constantFrom('\0 ', ' \0', '\0\0', '  ', '\0\xff', '\0\x80'), fc.integer({ min: 0, max: 7 }));
    fc.assert(fc.property(block, ([bytes, mask, kind, tail, shift]) => {
      const b = Buffer.alloc(512 + shift).subarray(shift);
      b.set(bytes.map((x) => (mask === 'all' ? 0xff : mask === 0x7f ? x & 0x7f : x)));
      if (kind !== 'noise') {
        const { unsigned, signed } = tarHeaderSums(b);
        const v = kind === 'unsigned' ? unsigned : kind === 'signed' ? signed : unsigned + 1;
        const field = kind === 'spaces' ? '        ' : `${Math.abs(v).toString(8).padStart(6, '0').slice(-6)}${tail}`;
        b.write(field, 148, 'latin1');
      }
      expect(isGoTarHeaderBlock(b)).to.equal(model(b));
    }), { numRuns: 3000 });
  });

  it('a block with bytes above 127 and the signed sum in its checksum field is a header', () => {
    const b = Buffer.alloc(512, 0xff);
    b.fill(0x20, 148, 156);
    let signed = 0;
    for (const c of b) signed += c > 127 ? c - 256 : c;
    expect(signed).to.be.lessThan(0);
    // A negative sum is no octal number: Go refuses it, and so do we.
    b.write(`${(-signed).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(isGoTarHeaderBlock(b)).to.equal(false);
    const c = Buffer.alloc(512);
    c[0] = 0xff;
    c.fill(0x20, 148, 156);
    let s = 0;
    for (const x of c) s += x > 127 ? x - 256 : x;
    c.write(`${s.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(s).to.equal(255); // the unsigned sum is 511
    expect(isGoTarHeaderBlock(c)).to.equal(true);
  });
});
