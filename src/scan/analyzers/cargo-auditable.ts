/**
 * lang/cargo-auditable: the crate list that `cargo auditable build`
 * (github.com/rust-secure-code/cargo-auditable) embeds in Rust executables.
 *
 * Format (auditable-serde's `VersionInfo`, rustsec's cargo-auditable JSON schema): an ELF section
 * named `.dep-v0` holds zlib-compressed (RFC 1950) JSON
 * `{"packages":[{"name","version","source","kind"?,"dependencies"?,"root"?}, …]}` where `source`
 * is `crates.io`, `git`, `local`, `registry` or another word, `kind` is `runtime` (the default)
 * or `build` (build scripts and proc macros: not linked into the binary), `dependencies` are
 * indices into `packages`, and at most one package has `root: true` (the crate the binary is).
 *
 * Reported: every `runtime` package whose source is `crates.io`, purl `pkg:cargo/NAME@VERSION`,
 * ecosystem `crates.io` (as lang/cargo-lock), the binary's path as `path`; the root package first
 * when it is itself from crates.io (`cargo install`ed). `build` packages are left out as trivy
 * (pkg/dependency/parser/rust/binary), syft and osv-scalibr leave them out by default.
 *
 * Streaming: the section header table sits near the end of the file (`e_shoff`), after the section
 * data, so one pass needs a copy. To keep that cheap, only ELF executables and shared objects
 * (`e_type` 2 or 3) with an executable mode bit, of at least 1 KiB, outside the distribution's
 * directories (`/usr/bin`, `/usr/sbin`, `/bin`, `/sbin`, `/usr/lib*`, `/lib*`, `/usr/libexec`) are
 * spilled to the scan's capped temp dir, and only up to the end of the section header table (the
 * whole file when section data follows the table, as Go's linker writes it). The
 * copy is deleted as soon as the section headers have been read, whether `.dep-v0` was there or not.
 * ELF32/ELF64 in either byte order is read here (ELF gABI, "Sections"; extended section numbering
 * through section 0 included).
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { isElfStart, type Analyzer, type AnalyzerContext, type AnalyzerOutput, type EntryInfo, type FoundPackage, type StreamSink } from './types.js';
import { formatPurl } from '../purl.js';
import { SpillFile } from '../spill.js';

/** Largest compressed `.dep-v0` section read (real ones are a few KiB). */
const MAX_SECTION = 8 * 1024 * 1024;
/** Largest inflated JSON accepted. */
const MAX_JSON = 8 * 1024 * 1024;
/** Largest section-name string table read. */
const MAX_SHSTRTAB = 4 * 1024 * 1024;
/** Most section headers read (extended numbering allows far more than any real binary has). */
const MAX_SECTIONS = 1 << 20;
const SECTION = '.dep-v0';

/** Directories whose executables belong to the distribution (never built with cargo-auditable by the image author). */
const DISTRO_DIR = /^\/(?:usr\/(?:bin|sbin|libexec|lib[^/]*)|bin|sbin|lib[^/]*)\//;

/** One package of the embedded list, as auditable-serde describes it. */
export interface AuditablePackage {
  name: string;
  version: string;
  /** `crates.io`, `git`, `local`, `registry`, or another word. */
  source: string;
  /** `runtime` (default) or `build`. */
  kind: 'runtime' | 'build';
  /** Indices into the package list. */
  dependencies: number[];
  /** True for the crate the binary was built from. */
  root: boolean;
}

/** The fields of an ELF header this analyzer needs. */
export interface ElfHeader {
  is64: boolean;
  le: boolean;
  /** `e_type`: 1 relocatable, 2 executable, 3 shared object, 4 core. */
  type: number;
  shoff: number;
  shentsize: number;
  /** `e_shnum`; 0 with `shoff` ≠ 0 means extended numbering (count in section 0's `sh_size`). */
  shnum: number;
  /** `e_shstrndx`; 0xffff means extended (index in section 0's `sh_link`). */
  shstrndx: number;
}

/**
 * Parses an ELF header from the first bytes of a file (ELF gABI "ELF Header").
 * @returns undefined when `h` is not an ELF header (wrong magic, class or data byte, too short).
 */
export function parseElfHeader(h: Buffer): ElfHeader | undefined {
  if (h.length < 52 || h[0] !== 0x7f || h[1] !== 0x45 || h[2] !== 0x4c || h[3] !== 0x46) return undefined;
  if ((h[4] !== 1 && h[4] !== 2) || (h[5] !== 1 && h[5] !== 2)) return undefined;
  const is64 = h[4] === 2;
  if (is64 && h.length < 64) return undefined;
  const le = h[5] === 1;
  const u16 = (o: number) => (le ? h.readUInt16LE(o) : h.readUInt16BE(o));
  const u32 = (o: number) => (le ? h.readUInt32LE(o) : h.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? h.readBigUInt64LE(o) : h.readBigUInt64BE(o));
  return is64
    ? { is64, le, type: u16(16), shoff: u64(40), shentsize: u16(58), shnum: u16(60), shstrndx: u16(62) }
    : { is64, le, type: u16(16), shoff: u32(32), shentsize: u16(46), shnum: u16(48), shstrndx: u16(50) };
}

/** Reads exactly `n` bytes at `pos`. @throws Error when the file ends first. */
function preadExact(fd: number, pos: number, n: number, what: string): Buffer {
  const b = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const r = fs.readSync(fd, b, got, n - got, pos + got);
    if (r === 0) throw new Error(`ELF ${what} at offset ${pos} (${n} bytes) runs past the end of the file`);
    got += r;
  }
  return b;
}

/**
 * Finds the `.dep-v0` section of an ELF file through the section-name string table and returns its
 * raw (still compressed) bytes.
 * @returns undefined when the file has no section table or no `.dep-v0` section.
 * @throws Error when the file is not ELF or its section table / the section is malformed.
 */
export function readDepV0Section(file: string): Buffer | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(64);
    const hn = fs.readSync(fd, head, 0, 64, 0);
    const h = parseElfHeader(head.subarray(0, hn));
    if (!h) throw new Error('not an ELF file');
    if (h.shoff === 0) return undefined;
    const minEnt = h.is64 ? 64 : 40;
    if (h.shentsize < minEnt) throw new Error(`ELF section header size ${h.shentsize} is below ${minEnt}`);
    const u32 = (b: Buffer, o: number) => (h.le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => Number(h.le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const sect = (b: Buffer, o: number) => h.is64
      ? { name: u32(b, o), type: u32(b, o + 4), flags: u64(b, o + 8), offset: u64(b, o + 24), size: u64(b, o + 32), link: u32(b, o + 40) }
      : { name: u32(b, o), type: u32(b, o + 4), flags: u32(b, o + 8), offset: u32(b, o + 16), size: u32(b, o + 20), link: u32(b, o + 24) };
    let shnum = h.shnum;
    let shstrndx = h.shstrndx;
    if (shnum === 0 || shstrndx === 0xffff) {
      const s0 = sect(preadExact(fd, h.shoff, h.shentsize, 'section header 0'), 0);
      if (shnum === 0) shnum = s0.size;
      if (shstrndx === 0xffff) shstrndx = s0.link;
    }
    if (shnum === 0) return undefined;
    if (shnum > MAX_SECTIONS) throw new Error(`ELF declares ${shnum} sections (more than ${MAX_SECTIONS})`);
    if (shstrndx === 0 || shstrndx >= shnum) throw new Error(`ELF section-name table index ${shstrndx} is not among its ${shnum} sections`);
    const table = preadExact(fd, h.shoff, shnum * h.shentsize, 'section header table');
    const strs = sect(table, shstrndx * h.shentsize);
    if (strs.type === 8) throw new Error('ELF section-name table has no file data (SHT_NOBITS)');
    if (strs.size > MAX_SHSTRTAB) throw new Error(`ELF section-name table is ${strs.size} bytes (more than ${MAX_SHSTRTAB})`);
    const names = preadExact(fd, strs.offset, strs.size, 'section-name table');
    const want = Buffer.from(`${SECTION}\0`, 'latin1');
    for (let i = 1; i < shnum; i++) {
      const s = sect(table, i * h.shentsize);
      if (s.name + want.length > names.length || !names.subarray(s.name, s.name + want.length).equals(want)) continue;
      if (s.type === 8) throw new Error(`${SECTION} section has no file data (SHT_NOBITS)`);
      if (s.flags & 0x800) throw new Error(`${SECTION} section is ELF-compressed (SHF_COMPRESSED), which cargo-auditable never writes`);
      if (s.size > MAX_SECTION) throw new Error(`${SECTION} section is ${s.size} bytes (more than ${MAX_SECTION})`);
      return preadExact(fd, s.offset, s.size, `${SECTION} section`);
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Inflates and validates a `.dep-v0` section's content (the checks auditable-serde's
 * `validation.rs` makes: every dependency index in range, at most one root).
 * @throws Error when the data is not zlib, inflates past 8 MiB, is not JSON, or breaks the schema.
 */
export function parseDepV0(section: Buffer): AuditablePackage[] {
  let json: Buffer;
  try {
    json = zlib.inflateSync(section, { maxOutputLength: MAX_JSON });
  } catch (err) {
    if (err instanceof RangeError) throw new Error(`${SECTION}: inflated data is larger than ${MAX_JSON} bytes`, { cause: err });
    throw new Error(`${SECTION}: not zlib data (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new Error(`${SECTION}: not JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const list = (doc as { packages?: unknown } | null)?.packages;
  if (!Array.isArray(list)) throw new Error(`${SECTION}: no "packages" array`);
  const out: AuditablePackage[] = [];
  let roots = 0;
  list.forEach((raw: unknown, i) => {
    const p = raw as Record<string, unknown> | null;
    if (!p || typeof p !== 'object') throw new Error(`${SECTION}: package ${i} is not an object`);
    const { name, version, source, kind, dependencies, root } = p;
    if (typeof name !== 'string' || !name) throw new Error(`${SECTION}: package ${i} has no name`);
    if (typeof version !== 'string' || !version) throw new Error(`${SECTION}: package ${i} (${name}) has no version`);
    if (typeof source !== 'string') throw new Error(`${SECTION}: package ${i} (${name}) has no source`);
    if (kind !== undefined && kind !== 'runtime' && kind !== 'build') throw new Error(`${SECTION}: package ${i} (${name}) has kind ${JSON.stringify(kind)}`);
    const deps = dependencies ?? [];
    if (!Array.isArray(deps) || !deps.every((d): d is number => Number.isInteger(d) && d >= 0 && d < list.length)) {
      throw new Error(`${SECTION}: package ${i} (${name}) has a dependency index outside the list`);
    }
    if (root === true) roots++;
    out.push({ name, version, source, kind: kind ?? 'runtime', dependencies: deps, root: root === true });
  });
  if (roots > 1) throw new Error(`${SECTION}: ${roots} root packages (at most one allowed)`);
  return out;
}

/** The packages to report for a binary at `path`: crates.io runtime packages, the root first. */
export function auditablePackages(list: AuditablePackage[], path: string): FoundPackage[] {
  const pick = list.filter((p) => p.source === 'crates.io' && p.kind === 'runtime');
  pick.sort((a, b) => Number(b.root) - Number(a.root));
  return pick.map((p) => ({ ecosystem: 'crates.io', name: p.name, version: p.version, path, purl: formatPurl({ type: 'cargo', name: p.name, version: p.version }) }));
}

/** The streaming sink for one candidate file. */
class AuditableSink implements StreamSink {
  private state: 'head' | 'copy' | 'done' | 'skip' = 'head';
  private head: Buffer[] = [];
  private headLen = 0;
  private spill?: SpillFile;
  /** Bytes of the file needed: through the end of the section header table. */
  private need = 0;
  private overflow = false;

  constructor(private readonly e: EntryInfo, private readonly ctx: AnalyzerContext) {}

  write(c: Buffer): void {
    if (this.state === 'skip' || this.state === 'done') return;
    if (this.state === 'head') {
      if (this.headLen === 0 && c.length >= 4 && !isElfStart(c)) {
        this.state = 'skip';
        return;
      }
      this.head.push(c);
      this.headLen += c.length;
      if (this.headLen < 64 && this.headLen < this.e.size) return;
      const b = this.head.length === 1 ? this.head[0] : Buffer.concat(this.head);
      this.head = [];
      const h = parseElfHeader(b);
      if (!h || (h.type !== 2 && h.type !== 3) || h.shoff === 0 || h.shoff >= this.e.size) { this.state = 'skip'; return; }
      // Extended numbering: the count is in section 0, so the table's end is unknown: copy it all.
      // So too when data follows the table (Go's linker writes section data after it): the
      // section-name table or .dep-v0 may be there, and a partial copy would misread the file.
      const tableEnd = h.shoff + h.shnum * h.shentsize;
      this.need = h.shnum === 0 || tableEnd < this.e.size ? this.e.size : Math.min(this.e.size, tableEnd);
      this.spill = new SpillFile(this.ctx.spill, 'cargo-auditable');
      this.state = 'copy';
      this.copy(b);
      return;
    }
    this.copy(c);
  }

  private copy(c: Buffer): void {
    const spill = this.spill!;
    const left = this.need - spill.bytes;
    const part = c.length > left ? c.subarray(0, left) : c;
    if (!spill.write(part)) { this.overflow = true; this.state = 'skip'; return; }
    if (spill.bytes >= this.need) { spill.close(); this.state = 'done'; }
  }

  end(): AnalyzerOutput | undefined {
    try {
      if (this.overflow) {
        return { diagnostics: [{ code: 'spill-limit', path: this.e.path, message: `lang/cargo-auditable: ${this.need} bytes do not fit in the scan's temp-space limit (${this.ctx.spill.limitBytes} bytes, config scan.tmpDirLimit); the embedded crate list was not read`, incomplete: true }] };
      }
      if (this.state !== 'done' || !this.spill) return undefined;
      const section = readDepV0Section(this.spill.file);
      this.spill.release();
      if (!section) return undefined;
      const packages = auditablePackages(parseDepV0(section), this.e.path);
      return packages.length ? { packages } : undefined;
    } finally {
      this.spill?.release();
    }
  }

  abort(): void {
    this.spill?.release();
  }
}

/**
 * Candidate streams kept at once by the content read. Each is kept up to MAX_SECTION bytes and inflated
 * again each time it doubles; stored blocks whose headers coincide let one file start a never-ending
 * stream every 8 bytes (each probe seeing `{`), which unbounded took minutes and gigabytes for 256 KiB.
 * A real binary holds one crate list; past this many the read is reported incomplete.
 */
const MAX_OPEN = 8;

/** Bytes of a zlib stream inflated to tell whether it holds a crate list. */
const PROBE = 64;
/**
 * First bytes of a zlib header (RFC 1950 2.2) looked for: CMF 0x78 (a 32 KiB window), what zlib, flate2
 * and miniz_oxide write. Readers take smaller windows too (CMF 0x08-0x68): not looked for, as `48 89`
 * (x86-64 `mov`) is a valid header and probing every one costs 50 times the whole content read.
 */
const ZLIB_CMF = [0x78];

/** True for a zlib header `cmf`, `flg` a reader takes without a preset dictionary (FDICT clear, FCHECK right). */
function zlibHeader(cmf: number, flg: number | undefined): boolean {
  return flg !== undefined && (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && (flg & 0x20) === 0 && ((cmf << 8) | flg) % 31 === 0;
}

const EMPTY = Buffer.alloc(0);

/** Bytes a JSON object's text may begin with: `{` and the blanks JSON allows before it. */
const JSON_STARTS = new Set([0x7b, 0x20, 0x0a, 0x0d, 0x09]);


/**
 * A cheap look at the first deflate block holding data (empty ones skipped) after a zlib header at
 * `b[0]` (RFC 1951 3.2.3), before inflating: false when no stream beginning a JSON text can start so.
 * A stored block must carry LEN and its complement and begin with `{` or blank; a Huffman block must
 * declare codes zlib takes (dynamic: the code lengths read as inflate reads them) and begin with the
 * code of one of those literals. Most zlib-header-like pairs in a binary fail here and are never
 * inflated (x86-64 code is full of `48 89`, a valid header). True when `b` ends before it is decided.
 */
export function mayStartJson(b: Buffer): boolean {
  let bit = 16;
  /** `n` bits, least significant first; -1 past the end of `b`. */
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = b[bit >> 3];
      if (byte === undefined) return -1;
      v |= ((byte >> (bit & 7)) & 1) << i;
    }
    return v;
  };
  /** One symbol of the canonical Huffman code `h` (RFC 1951 3.2.2, codes sent most significant bit first); -1 past the end, -2 for no code. */
  const decode = (h: Huffman): number => {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= 15; len++) {
      const x = bits(1);
      if (x < 0) return -1;
      code |= x;
      const count = h.count[len]!;
      if (code - count < first) return h.symbol[index + (code - first)]!;
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    return -2;
  };
  // Empty blocks that are not the last (what a sync or full flush writes) may come first: the text
  // starts in the first block that holds data. Past the probe's bytes, inflating decides.
  for (;;) {
    const final = bits(1); // BFINAL
    const type = bits(2);
    if (type < 0) return true;
    let first: number;
    if (type === 0) {
      // the block header padded out to a byte, then LEN and NLEN (RFC 1951 3.2.4)
      const at = (bit + 7) >> 3;
      if (b.length < at + 4) return true;
      const len = b.readUInt16LE(at);
      if ((len ^ b.readUInt16LE(at + 2)) !== 0xffff) return false;
      if (len > 0) return b.length <= at + 4 || JSON_STARTS.has(b[at + 4]!);
      if (final) return false;
      bit = (at + 4) * 8;
      continue;
    } else if (type === 1) {
      first = decode(FIXED_LITLEN);
    } else if (type === 2) {
      // the code lengths as zlib's inflate reads and refuses them (inftrees.c: over-subscribed, or
      // incomplete but for a single code, is an error; the code-length code must be complete)
      const nlen = bits(5) + 257;
      const ndist = bits(5) + 1;
      const ncode = bits(4) + 4;
      if (ncode < 4) return true;
      if (nlen > 286 || ndist > 30) return false;
      const cl = new Array<number>(19).fill(0);
      for (let i = 0; i < ncode; i++) {
        const l = bits(3);
        if (l < 0) return true;
        cl[CL_ORDER[i]!] = l;
      }
      const clCode = huffman(cl);
      if (clCode.left !== 0) return false;
      const lengths = new Array<number>(nlen + ndist).fill(0);
      for (let i = 0; i < nlen + ndist;) {
        const sym = decode(clCode);
        if (sym === -1) return true;
        if (sym < 0) return false;
        if (sym < 16) { lengths[i++] = sym; continue; }
        let len = 0;
        let rep: number;
        if (sym === 16) {
          if (i === 0) return false;
          len = lengths[i - 1]!;
          rep = 3 + bits(2);
        } else rep = sym === 17 ? 3 + bits(3) : 11 + bits(7);
        if (rep < 3) return true;
        if (i + rep > nlen + ndist) return false;
        while (rep--) lengths[i++] = len;
      }
      if (lengths[256] === 0) return false;
      const lit = huffman(lengths.slice(0, nlen));
      const dist = huffman(lengths.slice(nlen));
      if (lit.left < 0 || (lit.left > 0 && lit.max !== 1) || dist.left < 0 || (dist.left > 0 && dist.max > 1)) return false;
      first = decode(lit);
    } else return false;
    if (first === -1) return true;
    if (first === 256) {
      if (final) return false;
      continue;
    }
    return first >= 0 && first < 256 && JSON_STARTS.has(first);
  }
}

/** A canonical Huffman code: codes per length, symbols in code order, and the Kraft room left (< 0 over-subscribed). */
interface Huffman { count: number[]; symbol: number[]; left: number; max: number }

/** The code of the code `lengths` (RFC 1951 3.2.2). */
function huffman(lengths: number[]): Huffman {
  const count = new Array<number>(16).fill(0);
  for (const l of lengths) count[l]!++;
  let left = 1;
  let max = 0;
  for (let len = 1; len <= 15; len++) {
    left = left * 2 - count[len]!;
    if (count[len]) max = len;
  }
  const offs = new Array<number>(16).fill(0);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + count[len]!;
  const symbol: number[] = [];
  lengths.forEach((l, sym) => { if (l) symbol[offs[l]!++] = sym; });
  count[0] = 0;
  return { count, symbol, left: max === 0 ? 0 : left, max };
}

/** The order the code-length code's lengths come in (RFC 1951 3.2.7). */
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** The fixed literal/length code (RFC 1951 3.2.6). */
const FIXED_LITLEN = huffman(Array.from({ length: 288 }, (_, i) => (i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8)));

/**
 * The sink for an ELF file that is not copied (in a distribution directory, or without an executable
 * bit: a start-up script can copy or `chmod` it, and the crates it links run all the same). Without the
 * section table at hand (it is at the end, after the data), the crate list is found by its content: every
 * zlib stream in the file whose first bytes inflate to a JSON object is kept as it passes (up to
 * MAX_SECTION), and each one that is a cargo-auditable list ({@link parseDepV0}) is reported, so the
 * `.dep-v0` section is among them wherever it is; a decoy list elsewhere only adds packages.
 */
class ContentSink implements StreamSink {
  private pos = 0;
  private elf: boolean | undefined;
  /** A zlib header seen within PROBE bytes of a chunk's end: its first bytes, completed by the next chunk. */
  private pending: Array<{ at: number; bytes: Buffer }> = [];
  /** Streams that inflate to JSON, being kept. */
  private open: Array<{ parts: Buffer[]; len: number; tried: number }> = [];
  /** A candidate stream was left unread because MAX_OPEN were being kept: the answer is incomplete. */
  private crowded = false;
  private lists: AuditablePackage[][] = [];

  constructor(private readonly e: EntryInfo) {}

  /** The first bytes while fewer than the four of the ELF magic have come. */
  private first = EMPTY;

  write(chunk: Buffer): void {
    let c = chunk;
    if (this.elf === undefined) {
      const b = this.first.length ? Buffer.concat([this.first, c]) : c;
      if (b.length < 4) { this.first = Buffer.from(b); return; }
      this.first = EMPTY;
      this.elf = isElfStart(b);
      c = b;
    }
    if (!this.elf) return;
    for (const o of this.open) this.keep(o, c);
    const done = this.pending;
    this.pending = [];
    for (const p of done) {
      const head = Buffer.concat([p.bytes, c.subarray(0, PROBE - p.bytes.length)]);
      // a chunk shorter than the rest of the probe: wait for the next one
      if (head.length < PROBE) this.pending.push({ at: p.at, bytes: head });
      else this.probe(p.at, head, c, p.bytes.length);
    }
    for (const cmf of ZLIB_CMF) {
      for (let i = c.indexOf(cmf); i >= 0 && i < c.length - 1; i = c.indexOf(cmf, i + 1)) {
        if (!zlibHeader(cmf, c[i + 1])) continue;
        if (c.length - i < PROBE) this.pending.push({ at: this.pos + i, bytes: Buffer.from(c.subarray(i)) });
        else this.probe(this.pos + i, c.subarray(i, i + PROBE), c.subarray(i + PROBE), 0);
      }
    }
    const last = c[c.length - 1];
    if (last !== undefined && ZLIB_CMF.includes(last)) this.pending.push({ at: this.pos + c.length - 1, bytes: Buffer.from([last]) });
    this.pos += c.length;
    this.open = this.open.filter((o) => !this.settle(o, false));
  }

  /**
   * Inflates `head` (the first bytes of a candidate stream); when they begin a JSON object the stream is
   * kept: `head`, then `rest` (what follows it in the current chunk, from `restFrom` of `head`'s length).
   */
  private probe(_at: number, head: Buffer, chunk: Buffer, restFrom: number): void {
    if (head.length < 2 || !zlibHeader(head[0]!, head[1]) || !mayStartJson(head)) return;
    let out: Buffer;
    try {
      // PROBE bytes inflate to at most PROBE * 8 * 258 bytes (a one-bit code per longest match): all read
      out = zlib.inflateSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: PROBE * 8 * 258 });
    } catch {
      return;
    }
    // nothing but blanks yet (empty blocks, a long block header): undecided, kept until it is whole or not JSON
    if (!mayBeJsonText(out)) return;
    if (this.open.length >= MAX_OPEN) { this.crowded = true; return; }
    const o = { parts: [Buffer.from(head)], len: head.length, tried: 0 };
    // the rest of the chunk after the probed bytes (restFrom > 0: the probe was completed by this chunk)
    const rest = restFrom > 0 ? chunk.subarray(PROBE - restFrom) : chunk;
    if (rest.length) this.keep(o, rest);
    if (!this.settle(o, false)) this.open.push(o);
  }

  private keep(o: { parts: Buffer[]; len: number }, c: Buffer): void {
    const room = MAX_SECTION - o.len;
    if (room <= 0) return;
    const part = Buffer.from(c.subarray(0, room));
    o.parts.push(part);
    o.len += part.length;
  }

  /** Tries the kept bytes as a whole stream (each time they have doubled, and at the end); true when done with it. */
  private settle(o: { parts: Buffer[]; len: number; tried: number }, last: boolean): boolean {
    if (!last && o.len < MAX_SECTION && o.len < 2 * o.tried + PROBE) return false;
    o.tried = o.len;
    const data = Buffer.concat(o.parts, o.len);
    o.parts = [data];
    let list: AuditablePackage[];
    try {
      // inflate stops at the stream's end: the bytes after it are ignored
      list = parseDepV0(data);
    } catch (err) {
      // not yet whole (or no crate list): keep going while there is room and what it inflates to so far
      // can still begin a JSON object (a stream kept undecided after its first bytes must show it by now)
      if (last || o.len >= MAX_SECTION || !(err instanceof Error && /unexpected end of file/i.test(err.message))) return true;
      try {
        return !mayBeJsonText(zlib.inflateSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: 4096 }));
      } catch (e) {
        // more than 4 KiB so far (blanks after `{`): still possible, parseDepV0 bounds it
        return !(e instanceof RangeError);
      }
    }
    this.lists.push(list);
    return true;
  }

  end(): AnalyzerOutput | undefined {
    for (const p of this.pending) this.probe(p.at, p.bytes, EMPTY, p.bytes.length);
    this.pending = [];
    for (const o of this.open) this.settle(o, true);
    this.open = [];
    const seen = new Set<string>();
    const packages: FoundPackage[] = [];
    for (const l of this.lists) {
      for (const p of auditablePackages(l, this.e.path)) {
        const k = `${p.name}@${p.version}`;
        if (!seen.has(k)) { seen.add(k); packages.push(p); }
      }
    }
    const diagnostics = this.crowded ? [{
      code: 'cargo-auditable-crowded', path: this.e.path, incomplete: true,
      message: `lang/cargo-auditable: more than ${MAX_OPEN} zlib streams beginning a JSON object were open at once in this file; the others were not read, so an embedded crate list may be missed`,
    }] : undefined;
    return packages.length || diagnostics ? { ...(packages.length ? { packages } : {}), ...(diagnostics ? { diagnostics } : {}) } : undefined;
  }

  abort(): void {
    this.open = [];
  }
}

/** True when inflated text `out` so far is blank or begins a JSON object (after blanks). */
function mayBeJsonText(out: Buffer): boolean {
  return /^[\t\n\r ]*(\{|$)/.test(out.toString('latin1', 0, Math.min(out.length, 64)));
}

/** True for files whose section table is copied: executable, not in the distribution's directories. */
function copied(e: EntryInfo): boolean {
  return (e.mode & 0o111) !== 0 && !DISTRO_DIR.test(e.path);
}

/**
 * True for files this analyzer looks at: ≥ 1 KiB, any mode and directory (over 4 GiB, executables only). Executables outside the
 * distribution's directories are copied and read through their section table; the others (most ELF
 * files of a base image) are read by content as they pass ({@link ContentSink}), never copied.
 */
export function wantsAuditable(e: EntryInfo): boolean {
  // over the size limit only when executable (then `file-too-large`, as before): a large data file is no
  // reason to call every scan of it incomplete
  return e.size >= 1024 && (e.size <= AUDITABLE_MAX || (e.mode & 0o111) !== 0);
}

/** Largest file read (4 GiB). */
const AUDITABLE_MAX = 4 * 1024 ** 3;

/** The analyzer. */
export const cargoAuditableAnalyzer: Analyzer = {
  name: 'lang/cargo-auditable',
  // 2: files in the distribution's directories and without an executable bit are read by content.
  version: 2,
  maxSize: AUDITABLE_MAX,
  wants: wantsAuditable,
  stream: (e, ctx) => (copied(e) ? new AuditableSink(e, ctx) : new ContentSink(e)),
};
