/**
 * A header-only tar reader that resolves every entry the way Go's archive/tar does (containerd,
 * umoci and Docker unpack layers with it), so the scanner names, types and sizes each entry as the
 * runtime will. tar-stream, which reads the entry contents, applies the extension headers in a
 * different order (a PAX `path` beats a GNU long name there; Go lets the GNU `L`/`K` long name and
 * `GNU.sparse.name` win), treats typeflag `0` with a trailing slash as a directory, gives
 * symlinks a data section, and reads on past the end-of-archive blocks. This reader sees the same
 * bytes first and records, per entry, what Go's `Reader.Next` returns.
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

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lossy = new TextDecoder('utf-8');

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Go parser.parseString: bytes up to the first NUL. */
function cstr(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
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

function getFormat(blk: Buffer): Format | undefined {
  let stored: number;
  try {
    stored = octal(blk.subarray(148, 156));
  } catch {
    return undefined;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : blk[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (stored !== unsigned && stored !== signed) return undefined;
  const magic = blk.toString('latin1', 257, 263);
  const version = blk.toString('latin1', 263, 265);
  const trailer = blk.toString('latin1', 508, 512);
  if (magic === 'ustar\0' && trailer === 'tar\0') return 'star';
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  return 'v7';
}

function isAscii(b: Buffer): boolean {
  for (const c of b) if (c >= 0x80) return false;
  return true;
}

interface RawHeader {
  typeflag: string;
  name: Buffer;
  linkname: Buffer;
  size: number;
  format: Format;
}

/** Go readHeader for one non-zero block. */
function readHeader(blk: Buffer): RawHeader {
  const format = getFormat(blk);
  if (!format) throw new HeaderError('header checksum or format is invalid');
  const typeflag = String.fromCharCode(blk[156]!);
  let name = cstr(blk.subarray(0, 100));
  const linkname = cstr(blk.subarray(157, 257));
  const size = numeric(blk.subarray(124, 136));
  numeric(blk.subarray(100, 108));
  numeric(blk.subarray(108, 116));
  numeric(blk.subarray(116, 124));
  numeric(blk.subarray(136, 148));
  if (format !== 'v7') {
    numeric(blk.subarray(329, 337));
    numeric(blk.subarray(337, 345));
    let prefix: Buffer = Buffer.alloc(0);
    if (format === 'ustar') prefix = cstr(blk.subarray(345, 500));
    else if (format === 'star') prefix = cstr(blk.subarray(345, 476));
    else {
      // GNU: atime/ctime live where ustar keeps the prefix; a pre-Go1.8 writer put a prefix there.
      let bad = false;
      for (const [a, b] of [[345, 357], [357, 369]] as const) {
        if (blk[a] === 0) continue;
        try { numeric(blk.subarray(a, b)); } catch { bad = true; }
      }
      if (bad) {
        const s = cstr(blk.subarray(345, 500));
        if (isAscii(s)) prefix = s;
      }
    }
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  return { typeflag, name, linkname, size, format };
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

type State =
  | { k: 'header' }
  | { k: 'zero' }
  | { k: 'special'; typeflag: string; left: number; pad: number; parts: Buffer[]; offset: number }
  | { k: 'ext'; entry: GoTarEntry; pad: number }
  | { k: 'skip'; left: number }
  | { k: 'end' };

/**
 * Feed it the uncompressed tar bytes in order ({@link write}); it records each entry Go returns.
 * Pure computation, no I/O. Once Go would stop (end of archive or an error) it records nothing more.
 */
export class GoTarIndex {
  /** Set when Go's reader would fail: it returns this error from Next and nothing after it. */
  error: GoTarError | undefined;
  /** Offset just past Go's end-of-archive blocks, once seen. */
  endOffset: number | undefined;
  private readonly entries = new Map<number, GoTarEntry>();
  private offset = 0;
  private buf: Buffer = Buffer.alloc(0);
  private state: State = { k: 'header' };
  private pax: Map<string, Buffer> | undefined;
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;

  /** The entry whose data section starts at `dataOffset` (tar-stream's `header.byteOffset`). */
  take(dataOffset: number): GoTarEntry | undefined {
    const e = this.entries.get(dataOffset);
    if (e) this.entries.delete(dataOffset);
    return e;
  }

  /** Reads the next chunk of the tar. */
  write(chunk: Buffer): void {
    if (this.state.k === 'end' || this.error) return;
    let c = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = Buffer.alloc(0);
    try {
      while (c.length > 0 && this.state.k !== 'end') {
        const st = this.state;
        if (st.k === 'skip') {
          const n = Math.min(st.left, c.length);
          st.left -= n;
          this.offset += n;
          c = c.subarray(n);
          if (st.left === 0) this.state = { k: 'header' };
          continue;
        }
        if (st.k === 'special') {
          const want = st.left + st.pad;
          const n = Math.min(want, c.length);
          const dataPart = Math.min(n, st.left);
          if (dataPart > 0) st.parts.push(Buffer.from(c.subarray(0, dataPart)));
          st.left -= dataPart;
          st.pad -= n - dataPart;
          this.offset += n;
          c = c.subarray(n);
          if (st.left === 0 && st.pad === 0) {
            this.state = { k: 'header' };
            this.special(st.typeflag, Buffer.concat(st.parts), st.offset);
          }
          continue;
        }
        if (c.length < BLOCK) {
          this.buf = Buffer.from(c);
          return;
        }
        const blk = c.subarray(0, BLOCK);
        const at = this.offset;
        c = c.subarray(BLOCK);
        this.offset += BLOCK;
        if (st.k === 'zero') {
          if (isZero(blk)) {
            this.endOffset = this.offset;
            this.state = { k: 'end' };
          } else throw new HeaderError('a zero block is followed by a non-zero block');
          continue;
        }
        if (st.k === 'ext') {
          // Old GNU sparse extension block: 21 entries, then isExtended at byte 504.
          st.entry.dataOffset = this.offset;
          if (blk[504]! === 0) this.finishEntry(st.entry, st.pad);
          continue;
        }
        if (isZero(blk)) {
          this.state = { k: 'zero' };
          continue;
        }
        this.header(blk, at);
      }
    } catch (e) {
      if (!(e instanceof HeaderError)) throw e;
      this.error = { offset: this.offset, reason: e.message };
    }
  }

  private header(blk: Buffer, at: number): void {
    const h = readHeader(blk);
    if (h.size < 0) throw new HeaderError(`entry size ${h.size} is negative`);
    const pad = (BLOCK - (h.size % BLOCK)) % BLOCK;
    if (h.typeflag === 'x' || h.typeflag === 'g' || h.typeflag === 'L' || h.typeflag === 'K') {
      if (h.size > MAX_SPECIAL) throw new HeaderError(`${h.typeflag} header data of ${h.size} bytes is over Go's 1 MiB limit`);
      this.state = { k: 'special', typeflag: h.typeflag, left: h.size, pad, parts: [], offset: at };
      if (h.size === 0) {
        this.state = { k: 'header' };
        this.special(h.typeflag, Buffer.alloc(0), at);
      }
      return;
    }
    this.entry(h, at, blk);
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

  private entry(h: RawHeader, at: number, blk: Buffer): void {
    const pax = this.pax ?? new Map<string, Buffer>();
    const longName = this.longName;
    const longLink = this.longLink;
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    let name = h.name;
    let linkname = h.linkname;
    let size = h.size;
    const paxStr = (k: string): string => pax.get(k)?.toString('latin1') ?? '';
    // mergePAX: empty values keep the header's value.
    for (const [k, v] of pax) {
      if (v.length === 0) continue;
      const s = v.toString('latin1');
      if (k === 'path') name = v;
      else if (k === 'linkpath') linkname = v;
      else if (k === 'size') size = decimal(s, 'size');
      else if (k === 'uid' || k === 'gid') decimal(s, k);
      else if (k === 'atime' || k === 'mtime' || k === 'ctime') paxTime(s, k);
    }
    const conflicts: string[] = [];
    const paxPath = pax.get('path');
    if (longName && longName.length > 0) {
      if (paxPath && paxPath.length > 0 && !paxPath.equals(longName)) conflicts.push(`GNU long name "${lossy.decode(longName)}" over PAX path "${lossy.decode(paxPath)}"`);
      name = longName;
    }
    if (longLink && longLink.length > 0) {
      const pl = pax.get('linkpath');
      if (pl && pl.length > 0 && !pl.equals(longLink)) conflicts.push(`GNU long link "${lossy.decode(longLink)}" over PAX linkpath "${lossy.decode(pl)}"`);
      linkname = longLink;
    }
    let typeflag = h.typeflag;
    if (typeflag === '\0') typeflag = name[name.length - 1] === 0x2f ? '5' : '0';
    const physicalSize = HEADER_ONLY.has(typeflag) ? 0 : size;
    if (physicalSize < 0) throw new HeaderError(`entry size ${physicalSize} is negative`);
    const entry: GoTarEntry = {
      headerOffset: at, dataOffset: this.offset, physicalSize, name: '', linkname: '', typeflag, size,
    };
    // handleSparseFile
    let extended = false;
    if (typeflag === 'S') {
      if (h.format !== 'gnu') throw new HeaderError('old GNU sparse entry in a non-GNU header');
      entry.sparse = 'old-gnu';
      entry.size = numeric(blk.subarray(483, 495));
      // isExtended: the map goes on in extension blocks between this header and the data.
      extended = blk[482]! !== 0;
    } else {
      const major = paxStr('GNU.sparse.major');
      const minor = paxStr('GNU.sparse.minor');
      let kind: GoTarEntry['sparse'];
      if (major === '0' && (minor === '0' || minor === '1')) kind = 'pax-0.x';
      else if (major === '1' && minor === '0') kind = 'pax-1.0';
      else if (major !== '' || minor !== '') kind = undefined;
      else if (paxStr('GNU.sparse.map') !== '') kind = 'pax-0.x';
      if (kind) {
        entry.sparse = kind;
        const sn = pax.get('GNU.sparse.name');
        if (sn && sn.length > 0) {
          if (!sn.equals(name)) conflicts.push(`GNU.sparse.name "${lossy.decode(sn)}" over "${lossy.decode(name)}"`);
          name = sn;
        }
        const sz = paxStr('GNU.sparse.size') || paxStr('GNU.sparse.realsize');
        if (sz !== '') entry.size = decimal(sz, 'GNU.sparse.size');
        if (HEADER_ONLY.has(typeflag)) throw new HeaderError('sparse map on a header-only entry');
        if (kind === 'pax-0.x') entry.sparseMap = sparseMap0x1(paxStr('GNU.sparse.numblocks'), paxStr('GNU.sparse.map'), entry.size);
      }
    }
    const validName = (b: Buffer): boolean => { try { utf8.decode(b); return true; } catch { return false; } };
    if (!validName(name) || !validName(linkname)) entry.nonUtf8 = true;
    entry.name = lossy.decode(name);
    entry.linkname = lossy.decode(linkname);
    if (conflicts.length) entry.nameConflict = conflicts.join('; ');
    const pad = (BLOCK - (physicalSize % BLOCK)) % BLOCK;
    if (extended) this.state = { k: 'ext', entry, pad };
    else this.finishEntry(entry, pad);
  }

  private finishEntry(entry: GoTarEntry, pad: number): void {
    this.entries.set(entry.dataOffset, entry);
    const left = entry.physicalSize + pad;
    this.state = left > 0 ? { k: 'skip', left } : { k: 'header' };
  }
}
