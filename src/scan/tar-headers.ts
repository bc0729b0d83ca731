/**
 * The layer tar reader: one pass over the uncompressed bytes that resolves every entry the way Go's
 * archive/tar does (containerd, umoci and Docker unpack layers with it) and streams each entry's
 * data section as Go places it, so the scanner names, types, sizes and reads each entry as the
 * runtime will. Other readers differ on the same bytes (tar-stream lets a PAX `path` beat a GNU long
 * name where Go lets the GNU `L`/`K` long name and `GNU.sparse.name` win, treats typeflag `0` with a
 * trailing slash as a directory, gives symlinks a data section, and reads on past the end-of-archive
 * blocks); no second reader is consulted.
 *
 * Rules followed (Go src/archive/tar/reader.go `next`, `readHeader`, `mergePAX`, `parsePAX`,
 * `handleRegularFile`, `handleSparseFile`, `readGNUSparsePAXHeaders`; strconv.go
 * `parsePAXRecord`/`validPAXRecord`; format.go `getFormat`):
 * - two zero blocks end the archive; one zero block followed by anything else is an invalid header;
 * - a header whose checksum matches neither the unsigned nor the signed sum is invalid;
 * - the ustar `prefix` is joined (`prefix/name`) for USTAR/PAX headers, the star prefix for star
 *   headers, and for GNU headers only when atime/ctime do not parse (pre-Go1.8 writers);
 * - `x` records replace the previous `x` records (the last header wins, no merge); `g` is an entry
 *   of its own and clears pending long names and `x` records; PAX values that are empty keep the
 *   header's value; `path`, `linkpath`, `size` (and uid/gid/times, which must parse) apply;
 * - GNU `L`/`K` long names (cut at the first NUL) override PAX `path`/`linkpath`;
 * - typeflag NUL with a trailing slash on the final name is a directory, otherwise a regular file;
 * - link, symlink, char, block, directory and fifo entries have no data section whatever the size;
 * - a PAX GNU sparse file (0.0, 0.1, 1.0) takes its name from `GNU.sparse.name` and its size from
 *   `GNU.sparse.size`/`GNU.sparse.realsize`; old GNU `S` files carry the map in the header and in
 *   extension blocks before the data.
 */

const BLOCK = 512;
/** Go's maxSpecialFileSize: PAX and GNU long-name data larger than this is refused. */
const MAX_SPECIAL = 1 << 20;

/** One entry as Go's archive/tar returns it from `Reader.Next` (meta headers excluded). */
export interface GoTarEntry {
  /** Byte offset of the entry's header block in the uncompressed tar. */
  headerOffset: number;
  /** Byte offset where the entry's data section starts (after old-GNU sparse extension blocks). */
  dataOffset: number;
  /** Bytes of data section in the archive (0 for header-only types), before padding. */
  physicalSize: number;
  /** `Header.Name`, decoded as UTF-8. */
  name: string;
  /** `Header.Linkname`, decoded as UTF-8. */
  linkname: string;
  /** `Header.Typeflag` as a character (NUL already turned into `0` or `5`). */
  typeflag: string;
  /** `Header.Size`: the logical size (a sparse file's expanded size). */
  size: number;
  /** `Header.Mode`: the header's mode field as a number (permission and type bits as written). */
  mode: number;
  /** Set when the entry is a sparse file: its logical content is not its data section. */
  sparse?: 'old-gnu' | 'pax-0.x' | 'pax-1.0';
  /**
   * For PAX 0.0/0.1 sparse files: the data fragments `[offset, length]` of the logical file, in
   * order (validated as Go's validateSparseEntries does); the data section holds them back to back.
   */
  sparseMap?: Array<[number, number]>;
  /** True when the name or link name is not valid UTF-8 (the scanner sees U+FFFD instead). */
  nonUtf8?: boolean;
  /**
   * How the name was resolved when more than one source named the entry and they disagree
   * (e.g. `GNU long name "a" over PAX path "b"`), for the report.
   */
  nameConflict?: string;
}

/** Where and why Go's archive/tar stops with an error (ErrHeader, ErrFieldTooLong). */
export interface GoTarError {
  offset: number;
  reason: string;
}

class HeaderError extends Error {}

// ignoreBOM: a leading U+FEFF is part of the name Go uses, not a marker to drop.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder('utf-8', { ignoreBOM: true });

function isZero(b: Buffer, from = 0, to = b.length): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** An empty field (shared: no allocation for the empty link names of most entries). */
const EMPTY = Buffer.alloc(0);

/** Go parser.parseString: bytes up to the first NUL. */
function cstr(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}

/** {@link cstr} of `b[from, to)`, viewing `b`'s memory (one view, none when empty). */
function cstrAt(b: Buffer, from: number, to: number): Buffer {
  let i = from;
  while (i < to && b[i] !== 0) i++;
  return i === from ? EMPTY : b.subarray(from, i);
}

/** Go parser.parseNumeric: base-256 when the high bit is set, else octal trimmed of spaces/NULs. */
function numeric(b: Buffer): number {
  if (b.length > 0 && (b[0]! & 0x80) !== 0) {
    const neg = (b[0]! & 0x40) !== 0;
    let x = 0n;
    for (let i = 0; i < b.length; i++) {
      let c = neg ? b[i]! ^ 0xff : b[i]!;
      if (i === 0) c &= 0x7f;
      if (x >> 56n > 0n) throw new HeaderError('numeric field overflows');
      x = (x << 8n) | BigInt(c);
    }
    if (x >> 63n > 0n) throw new HeaderError('numeric field overflows');
    return Number(neg ? -x - 1n : x);
  }
  return octal(b);
}

/** {@link numeric} of `blk[from, to)`; octal fields (the common case) are read without allocating. */
function numericAt(blk: Buffer, from: number, to: number): number {
  if ((blk[from]! & 0x80) !== 0) return numeric(blk.subarray(from, to));
  return octalAt(blk, from, to);
}

/**
 * Go parser.parseOctal of `b[from, to)`: trimmed of spaces and NULs at both ends, cut at the first
 * NUL, then strconv.ParseUint(s, 8, 64). Fields are at most 12 bytes, so the value stays exact.
 */
function octalAt(b: Buffer, from: number, to: number): number {
  let i = from;
  let j = to;
  while (i < j && (b[i] === 0x20 || b[i] === 0)) i++;
  while (j > i && (b[j - 1] === 0x20 || b[j - 1] === 0)) j--;
  if (i === j) return 0;
  let x = 0;
  for (let k = i; k < j; k++) {
    const c = b[k]!;
    if (c === 0) break;
    if (c < 0x30 || c > 0x37) return octal(b.subarray(from, to));
    x = x * 8 + (c - 0x30);
  }
  return x;
}

function octal(b: Buffer): number {
  let s = b.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (s === '') return 0;
  const nul = s.indexOf('\0');
  if (nul >= 0) s = s.slice(0, nul);
  if (!/^[0-7]+$/.test(s)) throw new HeaderError(`numeric field "${s}" is not octal`);
  return parseInt(s, 8);
}

/** Go strconv.ParseInt(v, 10, 64). */
function decimal(v: string, what: string): number {
  if (!/^[+-]?[0-9]+$/.test(v)) throw new HeaderError(`PAX ${what} "${v}" is not a decimal integer`);
  const n = BigInt(v);
  if (n > 0x7fffffffffffffffn || n < -0x8000000000000000n) throw new HeaderError(`PAX ${what} "${v}" overflows`);
  return Number(n);
}

/** Go parsePAXTime: seconds[.fraction]. */
function paxTime(v: string, what: string): void {
  const dot = v.indexOf('.');
  // The fraction is right-padded or cut to 9 digits, then must parse as an integer.
  if (dot >= 0 && !/^[+-]?[0-9]+$/.test(v.slice(dot + 1).padEnd(9, '0').slice(0, 9))) throw new HeaderError(`PAX ${what} "${v}" is not a time`);
  decimal(dot >= 0 ? v.slice(0, dot) : v, what);
}

type Format = 'v7' | 'ustar' | 'star' | 'gnu';

/** `blk[at, at + lit.length)` equals the bytes of `lit` (latin1). */
function bytesAre(blk: Buffer, at: number, lit: string): boolean {
  for (let i = 0; i < lit.length; i++) if (blk[at + i] !== lit.charCodeAt(i)) return false;
  return true;
}

/**
 * The sum of the bytes of the block `blk[o, o + 512)` (below 2^17) when `high` is false, else how
 * many of them are above 127. Four bytes at a time where the block starts on a 4-byte boundary of
 * its memory (every block read straight from an inflated chunk): a byte loop took 14,000
 * instructions per header, more than the rest of the tar parse together.
 */
function blockSum(blk: Buffer, o: number, high: boolean): number {
  const at = blk.byteOffset + o;
  let sum = 0;
  if ((at & 3) === 0) {
    const w = new Int32Array(blk.buffer, at, BLOCK >> 2);
    if (!high) {
      // Two 16-bit lanes of byte pairs, at most 128 × 2 × 255 < 2^16 each.
      for (let i = 0; i < w.length; i++) {
        const x = w[i]!;
        sum += (x & 0x00ff00ff) + ((x >>> 8) & 0x00ff00ff);
      }
      return (sum & 0xffff) + (sum >>> 16);
    }
    // Four 8-bit lanes of high bits, at most 128 each.
    for (let i = 0; i < w.length; i++) sum += (w[i]! >>> 7) & 0x01010101;
    return (sum & 0xff) + ((sum >>> 8) & 0xff) + ((sum >>> 16) & 0xff) + (sum >>> 24);
  }
  for (let i = o, end = o + BLOCK; i < end; i++) sum += high ? blk[i]! >> 7 : blk[i]!;
  return sum;
}

/**
 * Go getFormat of the block `blk[o, o + 512)`: the checksum field (bytes 148..156, read as spaces)
 * must equal the unsigned or the signed byte sum. The signed sum is the unsigned one less 256 for
 * every byte above 127: counted only when the unsigned sum does not match (a header some writer
 * summed as signed bytes, or no header).
 */
function getFormat(blk: Buffer, o = 0): Format | undefined {
  let stored: number;
  try {
    stored = octalAt(blk, o + 148, o + 156);
  } catch {
    return undefined;
  }
  let unsigned = blockSum(blk, o, false);
  for (let i = o + 148; i < o + 156; i++) unsigned += 0x20 - blk[i]!;
  if (stored !== unsigned) {
    let high = blockSum(blk, o, true);
    for (let i = o + 148; i < o + 156; i++) high -= blk[i]! >> 7;
    if (stored !== unsigned - 256 * high) return undefined;
  }
  if (bytesAre(blk, o + 257, 'ustar\0')) return bytesAre(blk, o + 508, 'tar\0') ? 'star' : 'ustar';
  if (bytesAre(blk, o + 257, 'ustar ') && bytesAre(blk, o + 263, ' \0')) return 'gnu';
  return 'v7';
}

/**
 * True when Go's archive/tar `Reader.Next` would take the 512-byte block `blk` as a header (its
 * checksum field parses as octal and equals the unsigned or the signed sum): what Docker Engine's
 * unpacker requires of the first block of an uncompressed layer.
 */
export function isGoTarHeaderBlock(blk: Buffer): boolean {
  return blk.length >= BLOCK && getFormat(blk, 0) !== undefined;
}

/** A name's bytes as UTF-8 (invalid sequences as U+FFFD, and `valid` false then). ASCII is read directly. */
function text(b: Buffer): { s: string; valid: boolean } {
  if (isAscii(b)) return { s: b.toString('latin1'), valid: true };
  try {
    return { s: utf8.decode(b), valid: true };
  } catch {
    return { s: lossy.decode(b), valid: false };
  }
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

interface RawHeader {
  typeflag: string;
  name: Buffer;
  linkname: Buffer;
  size: number;
  mode: number;
  format: Format;
}

/** Whether the GNU atime/ctime field `blk[from, to)` is empty or parses as a number. */
function timeParses(blk: Buffer, from: number, to: number): boolean {
  if (blk[from] === 0) return true;
  try {
    numericAt(blk, from, to);
    return true;
  } catch {
    return false;
  }
}

/**
 * The numeric header fields Go's readHeader parses, as `[from, to)` pairs of offsets in the block,
 * in its order: size, mode, uid, gid, mtime; then, for all but V7 headers, devmajor and devminor.
 */
const NUMERIC_FIELDS: readonly number[] = [124, 136, 100, 108, 108, 116, 116, 124, 136, 148, 329, 337, 337, 345];

/**
 * Go readHeader for the non-zero block `blk[o, o + 512)`. The name and link name view `blk`'s
 * memory: use them before that memory is reused.
 */
function readHeader(blk: Buffer, o: number): RawHeader {
  const format = getFormat(blk, o);
  if (!format) throw new HeaderError('header checksum or format is invalid');
  const typeflag = String.fromCharCode(blk[o + 156]!);
  let name = cstrAt(blk, o, o + 100);
  const linkname = cstrAt(blk, o + 157, o + 257);
  // The numeric fields in Go's order (the first one that does not parse names the error): one call
  // site in a loop, where seven calls made V8 inline seven copies of the octal parser into this
  // function and compile them all.
  let size = 0;
  let mode = 0;
  const fields = format === 'v7' ? 5 : NUMERIC_FIELDS.length >> 1;
  for (let k = 0; k < fields; k++) {
    const v = numericAt(blk, o + NUMERIC_FIELDS[2 * k]!, o + NUMERIC_FIELDS[2 * k + 1]!);
    if (k === 0) size = v;
    else if (k === 1) mode = v;
  }
  if (format !== 'v7') {
    let prefix: Buffer = EMPTY;
    if (format === 'ustar') prefix = cstrAt(blk, o + 345, o + 500);
    else if (format === 'star') prefix = cstrAt(blk, o + 345, o + 476);
    else {
      // GNU: atime/ctime live where ustar keeps the prefix; a pre-Go1.8 writer put a prefix there.
      if (!timeParses(blk, o + 345, o + 357) || !timeParses(blk, o + 357, o + 369)) {
        const s = cstrAt(blk, o + 345, o + 500);
        if (isAscii(s)) prefix = s;
      }
    }
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  return { typeflag, name, linkname, size, mode, format };
}

/** Go parsePAX (with parsePAXRecord/validPAXRecord and the 0.0 sparse offset/numbytes fold). */
function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const sparse: Buffer[] = [];
  let s = buf;
  while (s.length > 0) {
    const sp = s.indexOf(0x20);
    if (sp < 0) throw new HeaderError('PAX record has no length');
    const lenStr = s.toString('latin1', 0, sp);
    if (!/^[+-]?[0-9]+$/.test(lenStr)) throw new HeaderError(`PAX record length "${lenStr}" is invalid`);
    const n = Number(lenStr);
    if (n < 5 || s.length < n) throw new HeaderError(`PAX record length ${n} is invalid`);
    if (s[n - 1] !== 0x0a) throw new HeaderError('PAX record does not end in a newline');
    const rec = s.subarray(sp + 1, n - 1);
    s = s.subarray(n);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new HeaderError('PAX record has no "="');
    const key = rec.subarray(0, eq).toString('latin1');
    const value = rec.subarray(eq + 1);
    if (key === '' || key.includes('=')) throw new HeaderError('PAX record key is invalid');
    if (['path', 'linkpath', 'uname', 'gname'].includes(key) ? value.includes(0) : key.includes('\0')) {
      throw new HeaderError(`PAX record ${JSON.stringify(key)} holds a NUL byte`);
    }
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      if ((sparse.length % 2 === 0) !== (key === 'GNU.sparse.offset') || value.includes(0x2c)) throw new HeaderError('GNU sparse 0.0 records are out of order');
      sparse.push(value);
    } else out.set(key, value);
  }
  if (sparse.length > 0) out.set('GNU.sparse.map', Buffer.from(sparse.map((b) => b.toString('latin1')).join(','), 'latin1'));
  return out;
}

/** Go readGNUSparseMap0x1 plus validateSparseEntries: fragments in order, no overlap, within size. */
function sparseMap0x1(numblocks: string, map: string, size: number): Array<[number, number]> {
  const n = decimal(numblocks, 'GNU.sparse.numblocks');
  if (n < 0) throw new HeaderError('GNU.sparse.numblocks is negative');
  const parts = map === '' ? [] : map.split(',');
  if (parts.length !== 2 * n) throw new HeaderError(`GNU.sparse.map has ${parts.length} numbers for ${n} blocks`);
  const out: Array<[number, number]> = [];
  let end = 0;
  for (let i = 0; i < parts.length; i += 2) {
    const off = decimal(parts[i]!, 'GNU.sparse.map');
    const len = decimal(parts[i + 1]!, 'GNU.sparse.map');
    if (off < 0 || len < 0 || off + len > size || end > off) throw new HeaderError('GNU sparse map is out of order or beyond the file size');
    end = off + len;
    out.push([off, len]);
  }
  if (size < 0) throw new HeaderError('sparse file size is negative');
  return out;
}

const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

/** The PAX record `k` as a latin1 string, `''` when absent. */
function paxStr(pax: ReadonlyMap<string, Buffer>, k: string): string {
  return pax.get(k)?.toString('latin1') ?? '';
}

/** The PAX records of an entry without an `x` header: none (shared, never written to). */
const NO_PAX: ReadonlyMap<string, Buffer> = new Map();

/** What a {@link GoTarReader} calls for each entry: `onEntry`, as its constructor's function is called. */
export interface GoTarHandler {
  onEntry(e: GoTarEntry): GoTarBody | undefined;
}

/** Where the content of one entry goes ({@link GoTarReader}); `end` may return a promise to wait for. */
export interface GoTarBody {
  write(chunk: Buffer): void;
  end(): void | Promise<void>;
}

type State =
  | { readonly k: 'header' }
  | { k: 'zero' }
  | { k: 'special'; typeflag: string; left: number; pad: number; parts: Buffer[]; offset: number }
  | { k: 'ext'; entry: GoTarEntry; pad: number }
  | { k: 'data'; entry: GoTarEntry; left: number; pad: number; body: GoTarBody | undefined }
  | { k: 'pad'; left: number }
  | { k: 'end' };

/** The state between entries (it has no fields: one object serves every entry). */
const HEADER: State = Object.freeze({ k: 'header' as const });

/** How the tar stream ended ({@link GoTarReader.finish}). */
export interface GoTarFinish {
  /**
   * True when the stream stopped inside the padding after the last entry's data, or inside the
   * end-of-archive blocks (only zero bytes after the last complete entry): every entry was read.
   */
  cutInPadding: boolean;
  /** Set when the stream stopped inside a header or an entry's data: what was cut. */
  truncated?: string;
}

/**
 * One pass over a tar stream as Go's archive/tar reads it: feed it the uncompressed bytes in order
 * ({@link write}); for each entry `Reader.Next` would return it calls `onEntry`, and streams the
 * entry's data section to the {@link GoTarBody} returned (or skips it, without copying, when
 * undefined). Meta headers (`x`, `L`, `K`) are applied, never returned; a `g` header is skipped as
 * containerd skips it. Once Go would stop (end of archive or an error) it reads nothing more:
 * {@link error}, {@link endOffset} and {@link afterEnd} say why.
 */
export class GoTarReader {
  /** Set when Go's reader would fail: it returns this error from Next and nothing after it. */
  error: GoTarError | undefined;
  /** Offset just past Go's end-of-archive blocks, once seen. */
  endOffset: number | undefined;
  /** Offset of the first non-zero byte after the end-of-archive blocks (bytes no runtime unpacks). */
  afterEnd: number | undefined;
  /** Bytes read so far. */
  offset = 0;
  /** A header block arriving in pieces (chunk boundaries need not fall on blocks). */
  private readonly blk = Buffer.alloc(BLOCK);
  private blkLen = 0;
  private state: State = HEADER;
  private pax: Map<string, Buffer> | undefined;
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;
  private readonly handler: GoTarHandler;

  /**
   * @param onEntry called once per entry, in order, with the entry as Go returns it; may throw
   *   (the error is thrown from {@link write}). A {@link GoTarHandler} (an object whose class
   *   defines `onEntry`) is called through that one method for every reader: a function made per
   *   reader is another call target each time, and code V8 optimized for one reader's function
   *   is thrown away when the next reader calls another.
   */
  constructor(onEntry: GoTarHandler | ((e: GoTarEntry) => GoTarBody | undefined)) {
    this.handler = typeof onEntry === 'function' ? { onEntry } : onEntry;
  }

  /**
   * Reads the next chunk of the tar. Returns a promise when an entry's body asked to be waited for
   * (its `end` returned one): the rest of the chunk is read once it resolves, so write the next
   * chunk only then. Throws (or rejects) with what `onEntry` or a body threw; Go's own refusals
   * are no exception, they set {@link error}.
   */
  write(chunk: Buffer): void | Promise<void> {
    return this.run(chunk, 0);
  }

  /**
   * Reads `chunk` from byte `i` on. The chunk is walked by index, never cut into views: a view is
   * made only for data handed to a body and for the name fields of a header.
   */
  private run(chunk: Buffer, i: number): void | Promise<void> {
    const len = chunk.length;
    try {
      for (;;) {
        const st = this.state;
        if (this.error) return;
        // An entry whose data is complete ends here, even at the end of a chunk (an empty file).
        if (st.k === 'data' && st.left === 0) {
          this.state = st.pad > 0 ? { k: 'pad', left: st.pad } : HEADER;
          const r = st.body?.end();
          if (r) {
            const rest = i;
            return r.then(() => this.run(chunk, rest));
          }
          continue;
        }
        if (i === len) return;
        if (st.k === 'data') {
          const n = Math.min(st.left, len - i);
          if (st.body) st.body.write(i === 0 && n === len ? chunk : chunk.subarray(i, i + n));
          st.left -= n;
          this.offset += n;
          i += n;
          continue;
        }
        if (st.k === 'pad') {
          const n = Math.min(st.left, len - i);
          st.left -= n;
          this.offset += n;
          i += n;
          if (st.left === 0) this.state = HEADER;
          continue;
        }
        if (st.k === 'end') {
          if (this.afterEnd === undefined) {
            for (let k = i; k < len; k++) {
              if (chunk[k] !== 0) { this.afterEnd = this.offset + k - i; break; }
            }
          }
          this.offset += len - i;
          return;
        }
        if (st.k === 'special') {
          const want = st.left + st.pad;
          const n = Math.min(want, len - i);
          const dataPart = Math.min(n, st.left);
          if (dataPart > 0) st.parts.push(Buffer.from(chunk.subarray(i, i + dataPart)));
          st.left -= dataPart;
          st.pad -= n - dataPart;
          this.offset += n;
          i += n;
          if (st.left === 0 && st.pad === 0) {
            this.state = HEADER;
            this.special(st.typeflag, Buffer.concat(st.parts), st.offset);
          }
          continue;
        }
        // A whole block `blk[o, o + 512)`: straight from the chunk, or assembled from pieces.
        let blk: Buffer;
        let o: number;
        if (this.blkLen === 0 && len - i >= BLOCK) {
          blk = chunk;
          o = i;
          i += BLOCK;
        } else {
          const n = Math.min(BLOCK - this.blkLen, len - i);
          chunk.copy(this.blk, this.blkLen, i, i + n);
          this.blkLen += n;
          i += n;
          if (this.blkLen < BLOCK) {
            this.offset += n;
            return;
          }
          this.offset += n - BLOCK;
          this.blkLen = 0;
          blk = this.blk;
          o = 0;
        }
        const at = this.offset;
        this.offset += BLOCK;
        if (st.k === 'zero') {
          if (isZero(blk, o, o + BLOCK)) {
            this.endOffset = this.offset;
            this.state = { k: 'end' };
          } else throw new HeaderError('a zero block is followed by a non-zero block');
          continue;
        }
        if (st.k === 'ext') {
          // Old GNU sparse extension block: 21 entries, then isExtended at byte 504.
          st.entry.dataOffset = this.offset;
          if (blk[o + 504]! === 0) this.finishEntry(st.entry, st.pad);
          continue;
        }
        if (isZero(blk, o, o + BLOCK)) {
          this.state = { k: 'zero' };
          continue;
        }
        this.header(blk, o, at);
      }
    } catch (e) {
      if (!(e instanceof HeaderError)) throw e;
      this.error = { offset: this.offset, reason: e.message };
    }
  }

  /**
   * Says how the stream ended, once every byte was written. Go returns io.EOF (a clean end) when
   * the stream stops on a block boundary between entries, with or without end-of-archive blocks.
   */
  finish(): GoTarFinish {
    const st = this.state;
    if (this.error || st.k === 'end') return { cutInPadding: false };
    if (st.k === 'pad') return { cutInPadding: true };
    if ((st.k === 'header' || st.k === 'zero') && this.blkLen === 0) return { cutInPadding: false };
    if ((st.k === 'header' || st.k === 'zero') && isZero(this.blk.subarray(0, this.blkLen))) return { cutInPadding: true };
    const where = st.k === 'data' ? `inside the data of "${st.entry.name}" (${st.left} of ${st.entry.physicalSize} bytes missing)`
      : st.k === 'special' || st.k === 'ext' ? 'inside an extension header' : 'inside a header block';
    return { cutInPadding: false, truncated: `the tar ends ${where} at byte ${this.offset}: unexpected end of data` };
  }

  private header(blk: Buffer, o: number, at: number): void {
    const h = readHeader(blk, o);
    // Go's handleRegularFile: header-only types have no data section, so their size is never used.
    if (h.size < 0 && !HEADER_ONLY.has(h.typeflag)) throw new HeaderError(`entry size ${h.size} is negative`);
    const pad = (BLOCK - (h.size % BLOCK)) % BLOCK;
    if (h.typeflag === 'x' || h.typeflag === 'g' || h.typeflag === 'L' || h.typeflag === 'K') {
      if (h.size > MAX_SPECIAL) throw new HeaderError(`${h.typeflag} header data of ${h.size} bytes is over Go's 1 MiB limit`);
      this.state = { k: 'special', typeflag: h.typeflag, left: h.size, pad, parts: [], offset: at };
      if (h.size === 0) {
        this.state = HEADER;
        this.special(h.typeflag, Buffer.alloc(0), at);
      }
      return;
    }
    this.entry(h, at, blk, o);
  }

  private special(typeflag: string, data: Buffer, _at: number): void {
    if (typeflag === 'x') this.pax = parsePax(data);
    else if (typeflag === 'g') {
      // Go returns the global header as an entry of its own and starts the next entry afresh.
      parsePax(data);
      this.pax = undefined;
      this.longName = undefined;
      this.longLink = undefined;
    } else if (typeflag === 'L') this.longName = cstr(data);
    else this.longLink = cstr(data);
  }

  private entry(h: RawHeader, at: number, blk: Buffer, o: number): void {
    const pax = this.pax ?? NO_PAX;
    const longName = this.longName;
    const longLink = this.longLink;
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    let name = h.name;
    let linkname = h.linkname;
    let size = h.size;
    // mergePAX: empty values keep the header's value. (Most entries have no PAX records.)
    if (pax.size > 0) for (const [k, v] of pax) {
      if (v.length === 0) continue;
      const s = v.toString('latin1');
      if (k === 'path') name = v;
      else if (k === 'linkpath') linkname = v;
      else if (k === 'size') size = decimal(s, 'size');
      else if (k === 'uid' || k === 'gid') decimal(s, k);
      else if (k === 'atime' || k === 'mtime' || k === 'ctime') paxTime(s, k);
    }
    // Made only when names conflict (most entries have no PAX records, let alone a conflict).
    let conflicts: string[] | undefined;
    const paxPath = pax.get('path');
    if (longName && longName.length > 0) {
      if (paxPath && paxPath.length > 0 && !paxPath.equals(longName)) (conflicts ??= []).push(`GNU long name "${lossy.decode(longName)}" over PAX path "${lossy.decode(paxPath)}"`);
      name = longName;
    }
    if (longLink && longLink.length > 0) {
      const pl = pax.get('linkpath');
      if (pl && pl.length > 0 && !pl.equals(longLink)) (conflicts ??= []).push(`GNU long link "${lossy.decode(longLink)}" over PAX linkpath "${lossy.decode(pl)}"`);
      linkname = longLink;
    }
    let typeflag = h.typeflag;
    if (typeflag === '\0') typeflag = name[name.length - 1] === 0x2f ? '5' : '0';
    const physicalSize = HEADER_ONLY.has(typeflag) ? 0 : size;
    if (physicalSize < 0) throw new HeaderError(`entry size ${physicalSize} is negative`);
    const entry: GoTarEntry = {
      headerOffset: at, dataOffset: this.offset, physicalSize, name: '', linkname: '', typeflag, size, mode: h.mode,
    };
    // handleSparseFile
    let extended = false;
    if (typeflag === 'S') {
      if (h.format !== 'gnu') throw new HeaderError('old GNU sparse entry in a non-GNU header');
      entry.sparse = 'old-gnu';
      entry.size = numeric(blk.subarray(o + 483, o + 495));
      // isExtended: the map goes on in extension blocks between this header and the data.
      extended = blk[o + 482]! !== 0;
    } else if (pax.size > 0) {
      // PAX sparse files are named only by PAX records.
      const major = paxStr(pax, 'GNU.sparse.major');
      const minor = paxStr(pax, 'GNU.sparse.minor');
      let kind: GoTarEntry['sparse'];
      if (major === '0' && (minor === '0' || minor === '1')) kind = 'pax-0.x';
      else if (major === '1' && minor === '0') kind = 'pax-1.0';
      else if (major !== '' || minor !== '') kind = undefined;
      else if (paxStr(pax, 'GNU.sparse.map') !== '') kind = 'pax-0.x';
      if (kind) {
        entry.sparse = kind;
        const sn = pax.get('GNU.sparse.name');
        if (sn && sn.length > 0) {
          if (!sn.equals(name)) (conflicts ??= []).push(`GNU.sparse.name "${lossy.decode(sn)}" over "${lossy.decode(name)}"`);
          name = sn;
        }
        const sz = paxStr(pax, 'GNU.sparse.size') || paxStr(pax, 'GNU.sparse.realsize');
        if (sz !== '') entry.size = decimal(sz, 'GNU.sparse.size');
        if (HEADER_ONLY.has(typeflag)) throw new HeaderError('sparse map on a header-only entry');
        if (kind === 'pax-0.x') entry.sparseMap = sparseMap0x1(paxStr(pax, 'GNU.sparse.numblocks'), paxStr(pax, 'GNU.sparse.map'), entry.size);
      }
    }
    const n = text(name);
    const l = text(linkname);
    if (!n.valid || !l.valid) entry.nonUtf8 = true;
    entry.name = n.s;
    entry.linkname = l.s;
    if (conflicts) entry.nameConflict = conflicts.join('; ');
    const pad = (BLOCK - (physicalSize % BLOCK)) % BLOCK;
    if (extended) this.state = { k: 'ext', entry, pad };
    else this.finishEntry(entry, pad);
  }

  private finishEntry(entry: GoTarEntry, pad: number): void {
    const body = this.handler.onEntry(entry);
    this.state = { k: 'data', entry, left: entry.physicalSize, pad, body };
  }
}

/**
 * The entries of a tar as Go's archive/tar returns them, by data offset: a {@link GoTarReader}
 * that keeps every entry and skips every data section (tests compare its names with a model).
 */
export class GoTarIndex {
  private readonly entries = new Map<number, GoTarEntry>();
  private readonly reader = new GoTarReader((e) => { this.entries.set(e.dataOffset, e); return undefined; });

  /** See {@link GoTarReader.error}. */
  get error(): GoTarError | undefined {
    return this.reader.error;
  }

  /** See {@link GoTarReader.endOffset}. */
  get endOffset(): number | undefined {
    return this.reader.endOffset;
  }

  /** The entry whose data section starts at `dataOffset`. */
  take(dataOffset: number): GoTarEntry | undefined {
    const e = this.entries.get(dataOffset);
    if (e) this.entries.delete(dataOffset);
    return e;
  }

  /** Reads the next chunk of the tar. */
  write(chunk: Buffer): void {
    void this.reader.write(chunk);
  }
}
