/**
 * The walker's name-length rule (walker.ts tooLong) against a model of the kernel's: a path of
 * PATH_MAX (4096) bytes or more with its NUL, or one segment over NAME_MAX (255) bytes, fails the
 * runtime's unpack (ENAMETOOLONG), so the entry is named `path-too-long` and left out. Names are
 * generated around the byte bounds with characters of one to four UTF-8 bytes, where a count of
 * UTF-16 units and a count of bytes disagree.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { LayerWalker, type WalkEntry } from '../../../src/scan/walker.js';

const PATH_MAX = 4096;
const NAME_MAX = 255;

/** The kernel's verdict on the cleaned absolute path `p`. */
function kernelRefuses(p: string): boolean {
  if (Buffer.byteLength(p) >= PATH_MAX) return true;
  return p.split('/').some((s) => Buffer.byteLength(s) > NAME_MAX);
}

/** Whether the walker names the entry `e` path-too-long, and whether it keeps it. */
function walk(e: WalkEntry): { tooLong: boolean; kept: boolean } {
  const w = new LayerWalker([], { version: 't', tmpDir: '/tmp' });
  w.open(e);
  const r = w.result();
  return { tooLong: r.diagnostics.some((d) => d.code === 'path-too-long'), kept: r.paths.length > 0 };
}

// One character of each UTF-8 length: 1 (a), 2 (é), 3 (€), 4 (𝄞, two UTF-16 units).
const char = fc.constantFrom('a', 'é', '€', '𝄞');
/** A segment of about `n` characters, repeated from a few generated ones. */
const segment = (min: number, max: number) =>
  fc.tuple(fc.array(char, { minLength: 1, maxLength: 4 }), fc.integer({ min, max })).map(([cs, n]) => {
    let s = '';
    for (let i = 0; s.length < n; i++) s += cs[i % cs.length]!;
    return s;
  });

describe('scan walker: names the kernel refuses', () => {
  it('property: a segment near NAME_MAX bytes is refused exactly when it is over 255 bytes', () => {
    fc.assert(fc.property(segment(60, 270), fc.constantFrom('file', 'directory', 'symlink'), (seg, type) => {
      const p = `/opt/${seg}`;
      const got = walk({ name: p.slice(1), type: type as WalkEntry['type'], size: 0, mode: 0o644, linkname: type === 'symlink' ? 'x' : undefined });
      expect(got.tooLong).to.equal(kernelRefuses(p));
      expect(got.kept).to.equal(!kernelRefuses(p));
    }), { numRuns: 400 });
  });

  it('property: a path near PATH_MAX bytes is refused exactly when it is 4096 bytes or more', () => {
    fc.assert(fc.property(fc.array(segment(30, 80), { minLength: 10, maxLength: 60 }), (segs) => {
      const p = `/${segs.join('/')}`;
      const got = walk({ name: p, type: 'file', size: 0, mode: 0o644 });
      expect(got.tooLong).to.equal(kernelRefuses(p));
    }), { numRuns: 300 });
  });

  it('property: a link text is held to the same bounds as a name', () => {
    fc.assert(fc.property(fc.array(segment(1, 270), { minLength: 1, maxLength: 20 }), fc.constantFrom('symlink', 'link'), (segs, type) => {
      const text = segs.join('/');
      const got = walk({ name: 'l', type: type as WalkEntry['type'], size: 0, mode: 0o777, linkname: text });
      expect(got.tooLong).to.equal(kernelRefuses(text));
    }), { numRuns: 300 });
  });

  it('a name of 86 to 255 bytes (as common as long file names are) is kept, one of 256 is not', () => {
    for (const n of [86, 200, 255]) expect(walk({ name: `x/${'b'.repeat(n)}`, type: 'file', size: 0, mode: 0o644 })).to.deep.equal({ tooLong: false, kept: true });
    expect(walk({ name: `x/${'b'.repeat(256)}`, type: 'file', size: 0, mode: 0o644 })).to.deep.equal({ tooLong: true, kept: false });
    // 86 characters of two bytes each: 172 bytes, kept; 128 of them: 256 bytes, refused.
    expect(walk({ name: `x/${'é'.repeat(86)}`, type: 'file', size: 0, mode: 0o644 }).kept).to.equal(true);
    expect(walk({ name: `x/${'é'.repeat(128)}`, type: 'file', size: 0, mode: 0o644 }).tooLong).to.equal(true);
  });
});
