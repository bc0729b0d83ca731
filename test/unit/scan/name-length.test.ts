/**
 * The walker's name-length rule (walker.ts tooLong) against a model of the kernel's: a path of
 * PATH_MAX (4096) bytes or more with its NUL, or one segment over NAME_MAX (255) bytes, fails the
 * runtime's unpack (ENAMETOOLONG), so the entry is named `path-too-long` and left out. Names are
 * generated around the byte bounds with characters of one to four UTF-8 bytes, where a count of
 * UTF-16 units and a count of bytes disagree. Most paths and half the link texts are cut to a byte length
 * within 64 of PATH_MAX: arrays of segments at fast-check's default size stay under 4,000 bytes, so
 * the PATH_MAX bound went untested by the generated paths.
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

/**
 * `s` (longer than `bytes` UTF-8 bytes) cut at a character boundary and padded with `a` to exactly
 * `bytes`; a `/` it would end with is padded over too (the walker drops a trailing `/`).
 */
function cutTo(s: string, bytes: number): string {
  const b = Buffer.from(s);
  let end = bytes;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // b[end] continues a character: leave it whole
  if (b[end - 1] === 0x2f) end--;
  return `${b.subarray(0, end).toString()}${'a'.repeat(bytes - end)}`;
}

/**
 * Segments of `min` to `max` characters (a few generated ones, repeated) joined by `/` after `lead`,
 * cut to PATH_MAX ± 64 bytes, a third of them to 4095, 4096 or 4097 bytes.
 */
const nearPathMax = (lead: string, min: number, max: number) =>
  fc.tuple(fc.array(segment(min, max), { minLength: 1, maxLength: 8 }), fc.oneof({ weight: 2, arbitrary: fc.integer({ min: PATH_MAX - 64, max: PATH_MAX + 64 }) }, fc.constantFrom(PATH_MAX - 1, PATH_MAX, PATH_MAX + 1)))
    .map(([segs, bytes]) => {
      const parts: string[] = [];
      for (let n = Buffer.byteLength(lead), i = 0; n <= bytes; i++) {
        parts.push(segs[i % segs.length]!);
        n += Buffer.byteLength(parts[i]!) + 1;
      }
      return cutTo(`${lead}${parts.join('/')}`, bytes);
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
    const anyLength = fc.array(segment(30, 80), { minLength: 10, maxLength: 60, size: 'max' }).map((segs) => `/${segs.join('/')}`);
    fc.assert(fc.property(fc.oneof({ weight: 1, arbitrary: anyLength }, { weight: 3, arbitrary: nearPathMax('/', 30, 80) }), (p) => {
      const got = walk({ name: p, type: 'file', size: 0, mode: 0o644 });
      expect(got.tooLong).to.equal(kernelRefuses(p));
    }), { numRuns: 200 });
  });

  it('property: a link text is held to the same bounds as a name', () => {
    // Segments of up to 80 characters (240 bytes) near PATH_MAX, so a segment over NAME_MAX does not decide first.
    const anyLength = fc.array(segment(1, 270), { minLength: 1, maxLength: 20, size: 'max' }).map((segs) => segs.join('/'));
    fc.assert(fc.property(fc.oneof(anyLength, nearPathMax('', 1, 80)), fc.constantFrom('symlink', 'link'), (text, type) => {
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
