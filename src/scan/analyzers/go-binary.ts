/**
 * lang/go-binary: Go module build information embedded in ELF executables, as Go's
 * `debug/buildinfo` reads it (src/debug/buildinfo/buildinfo.go) and `go version -m` prints it.
 *
 * The `.go.buildinfo` blob starts with the 14-byte magic `\xff Go buildinf:`, then pointer size
 * (1 byte) and flags (1 byte; bit 1 = big-endian, bit 2 = strings inline). Go ≥ 1.18 writes the
 * inline form: at offset 32, two varint-length-prefixed strings (Go version, module info). Older
 * toolchains write two pointers at offset 16 to Go string headers (runtime.buildVersion,
 * runtime.modinfo), resolved through the ELF program headers.
 *
 * Streaming: every file's first bytes (executable or not) are checked for the ELF magic; anything else is
 * ignored at once. In an ELF file the stream is searched for the magic as it passes; the inline
 * form is parsed straight from the stream (no temp file), whether or not the file carries the Go
 * build-ID note (a stripped note does not stop the binary or `go version -m`). Only files that carry
 * the note (`Go\0\0`, type 4) in their first 64 KiB are also spilled to the capped temp dir while
 * they pass, for the older pointer form; the spill is dropped as soon as the inline form is seen.
 *
 * Module info lines (cmd/go/internal/modload, runtime/debug.ParseBuildInfo): `path P`,
 * `mod P V SUM`, `dep P V SUM`, `=> P V SUM` (replaces the line above), `build K=V`, framed by
 * 16-byte sentinels.
 */
import fs from 'node:fs';
import type { Diagnostic } from '../../core/index.js';
import { isElfStart, type Analyzer, type AnalyzerContext, type AnalyzerOutput, type EntryInfo, type FoundPackage, type StreamSink } from './types.js';
import { formatPurl } from '../purl.js';
import { SpillFile } from '../spill.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const GO_NOTE = Buffer.from('Go\0\0', 'latin1');
/**
 * The empty tail every sink starts with: shared, not made per sink (a sink is made for every
 * executable of 1 KiB or more; an empty Buffer holds no bytes to change).
 */
const EMPTY = Buffer.alloc(0);
/** How much of the file start is searched for the Go build-ID note. */
const HEAD = 64 * 1024;
/** Largest module-info string accepted (Go itself allows far less in practice). */
const MAX_INFO = 4 * 1024 * 1024;

/** A Go module as build info lists it. */
export interface GoModule {
  path: string;
  version: string;
  sum?: string;
  replace?: GoModule;
}

/** Parsed build info (runtime/debug.BuildInfo). */
export interface GoBuildInfo {
  /** `go1.21.5` as the binary says. */
  goVersion: string;
  /** The main package path (`path` line). */
  path?: string;
  main?: GoModule;
  deps: GoModule[];
  settings: Record<string, string>;
}

/** Strips the 16-byte sentinels the linker puts around module info (debug/buildinfo). */
function stripSentinels(s: string): string {
  if (s.length >= 33 && s[s.length - 17] === '\n') return s.slice(16, -16);
  return s;
}

/**
 * Parses the module-info text (after {@link stripSentinels}).
 * @throws Error on a malformed line (the walker turns it into a `parse-error` diagnostic).
 */
export function parseModInfo(goVersion: string, modinfo: string): GoBuildInfo {
  const info: GoBuildInfo = { goVersion, deps: [], settings: {} };
  let last: GoModule | undefined;
  for (const line of stripSentinels(modinfo).split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    const mod = (): GoModule => {
      if (f.length < 3) throw new Error(`go build info: malformed line "${line.slice(0, 80)}"`);
      return { path: f[1], version: f[2], sum: f[3] || undefined };
    };
    switch (f[0]) {
      case 'path': info.path = f[1]; break;
      case 'mod': info.main = last = mod(); break;
      case 'dep': last = mod(); info.deps.push(last); break;
      case '=>':
        if (!last) throw new Error('go build info: replacement without a module');
        last.replace = mod();
        last = undefined;
        break;
      case 'build': {
        const kv = f.slice(1).join('\t');
        const i = kv.indexOf('=');
        if (i > 0) info.settings[kv.slice(0, i)] = kv.slice(i + 1);
        break;
      }
      default: break;
    }
  }
  return info;
}

/** `go1.21.5` → `1.21.5`; undefined for `devel …` toolchains. */
export function goStdlibVersion(v: string): string | undefined {
  const m = /^go(\d+(?:\.\d+){0,2}(?:(?:rc|beta)\d+)?)/.exec(v.trim());
  return m ? m[1] : undefined;
}

function goPackage(name: string, version: string, path: string): FoundPackage {
  const slash = name.lastIndexOf('/');
  return {
    ecosystem: 'Go', name, version, path,
    purl: slash > 0
      ? formatPurl({ type: 'golang', namespace: name.slice(0, slash), name: name.slice(slash + 1), version: version === '(devel)' ? undefined : version })
      : formatPurl({ type: 'golang', name, version: version === '(devel)' ? undefined : version }),
  };
}

/**
 * The packages a binary's build info stands for: the main module (version `(devel)` when built
 * from a work tree), each dependency at its replacement's version when replaced by another module
 * version (a local-directory replacement keeps the required version), and `stdlib` at the Go
 * version without `go` (trivy and osv-scanner call it that).
 */
export function goPackages(info: GoBuildInfo, path: string): FoundPackage[] {
  const out: FoundPackage[] = [];
  if (info.main?.path) out.push(goPackage(info.main.path, info.main.version, path));
  else if (info.path) out.push(goPackage(info.path, '(devel)', path));
  for (const d of info.deps) {
    const r = d.replace;
    if (r && r.version && !r.path.startsWith('.') && !r.path.startsWith('/')) out.push(goPackage(r.path, r.version, path));
    else out.push(goPackage(d.path, d.version, path));
  }
  const std = goStdlibVersion(info.goVersion);
  if (std) out.push({ ecosystem: 'Go', name: 'stdlib', version: std, path, purl: formatPurl({ type: 'golang', name: 'stdlib', version: std }) });
  return out;
}

/** Reads an unsigned LEB128 varint; undefined when `b` ends first. */
function uvarint(b: Buffer, off: number): { v: number; n: number } | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (off + i >= b.length) return undefined;
    const c = b[off + i];
    v += (c & 0x7f) * mul;
    if (!(c & 0x80)) return { v, n: i + 1 };
    mul *= 128;
  }
  throw new Error('go build info: varint too long');
}

/**
 * Parses the inline (Go ≥ 1.18) form from bytes starting at the magic.
 * @returns the two strings, `'more'` when `b` is too short yet, or `'pointer'` for the old form.
 */
export function parseInlineBuildInfo(b: Buffer): { version: string; modinfo: string } | 'more' | 'pointer' {
  if (b.length < 32) return 'more';
  if (!(b[15] & 2)) return 'pointer';
  const a = uvarint(b, 32);
  if (!a) return 'more';
  if (a.v > 1024) throw new Error('go build info: version string too long');
  const vEnd = 32 + a.n + a.v;
  const m = uvarint(b, vEnd);
  if (!m) return 'more';
  if (m.v > MAX_INFO) throw new Error('go build info: module info over 4 MiB');
  const end = vEnd + m.n + m.v;
  if (b.length < end) return 'more';
  return { version: b.toString('utf8', 32 + a.n, vEnd), modinfo: b.toString('utf8', vEnd + m.n, end) };
}

/** Reads `n` bytes at `pos` of an open file (short at EOF). */
function pread(fd: number, pos: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  const got = fs.readSync(fd, b, 0, n, pos);
  return b.subarray(0, got);
}

/**
 * Reads the pointer (Go < 1.18) form from an ELF file: the blob at file offset `magicAt` holds two
 * pointers to Go string headers, mapped to file offsets through the PT_LOAD program headers.
 * @throws Error when the ELF or the pointers are not sane.
 */
export function readPointerBuildInfo(file: string, magicAt: number): { version: string; modinfo: string } {
  const fd = fs.openSync(file, 'r');
  try {
    const eh = pread(fd, 0, 64);
    if (eh.length < 52 || !eh.subarray(0, 4).equals(ELF)) throw new Error('not an ELF file');
    const is64 = eh[4] === 2;
    const le = eh[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
    const phoff = is64 ? u64(eh, 32) : u32(eh, 28);
    const phentsize = u16(eh, is64 ? 54 : 42);
    const phnum = u16(eh, is64 ? 56 : 44);
    if (phnum > 256 || phentsize < (is64 ? 56 : 32)) throw new Error('bad ELF program headers');
    const loads: Array<{ vaddr: number; off: number; filesz: number }> = [];
    const ph = pread(fd, phoff, phnum * phentsize);
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (o + phentsize > ph.length) break;
      if (u32(ph, o) !== 1) continue; // PT_LOAD
      loads.push(is64
        ? { off: u64(ph, o + 8), vaddr: u64(ph, o + 16), filesz: u64(ph, o + 32) }
        : { off: u32(ph, o + 4), vaddr: u32(ph, o + 8), filesz: u32(ph, o + 16) });
    }
    const hdr = pread(fd, magicAt, 16 + 2 * 8);
    const ptrSize = hdr[14];
    if (ptrSize !== 4 && ptrSize !== 8) throw new Error(`go build info: pointer size ${ptrSize}`);
    const bigEndian = (hdr[15] & 1) !== 0;
    const rd = (b: Buffer, o: number) => ptrSize === 8
      ? Number(bigEndian ? b.readBigUInt64BE(o) : b.readBigUInt64LE(o))
      : (bigEndian ? b.readUInt32BE(o) : b.readUInt32LE(o));
    const at = (addr: number, n: number): Buffer => {
      const l = loads.find((s) => addr >= s.vaddr && addr + n <= s.vaddr + s.filesz);
      if (!l) throw new Error(`go build info: address 0x${addr.toString(16)} is not in the file`);
      return pread(fd, l.off + (addr - l.vaddr), n);
    };
    const str = (addr: number, max: number): string => {
      const h = at(addr, 2 * ptrSize);
      const data = rd(h, 0);
      const len = rd(h, ptrSize);
      if (len === 0) return '';
      if (len > max) throw new Error('go build info: string too long');
      return at(data, len).toString('utf8');
    };
    return { version: str(rd(hdr, 16), 1024), modinfo: str(rd(hdr, 16 + ptrSize), MAX_INFO) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The file range of the first PT_LOAD segment that is writable and not executable (debug/buildinfo's
 * fallback when there is no `.go.buildinfo` section), from the ELF and program headers in `h`
 * (the first bytes of the file); undefined when they are not all in `h` or make no sense.
 */
export function writableSegment(h: Buffer): { start: number; end: number } | undefined {
  if (h.length < 64 || (h[4] !== 1 && h[4] !== 2) || (h[5] !== 1 && h[5] !== 2)) return undefined;
  const is64 = h[4] === 2;
  const le = h[5] === 1;
  const u16 = (o: number) => (le ? h.readUInt16LE(o) : h.readUInt16BE(o));
  const u32 = (o: number) => (le ? h.readUInt32LE(o) : h.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? h.readBigUInt64LE(o) : h.readBigUInt64BE(o));
  const phoff = is64 ? u64(32) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  if (phentsize < (is64 ? 56 : 32) || phnum === 0 || phoff + phnum * phentsize > h.length) return undefined;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (u32(o) !== 1) continue; // PT_LOAD
    const flags = is64 ? u32(o + 4) : u32(o + 24);
    if ((flags & 3) !== 2) continue; // PF_W without PF_X, as debug/buildinfo's elfExe.DataStart
    const off = is64 ? u64(o + 8) : u32(o + 4);
    const filesz = is64 ? u64(o + 32) : u32(o + 16);
    return filesz > 0 ? { start: off, end: off + filesz } : undefined;
  }
  return undefined;
}


/** One ELF program header, 64-bit fields as bigint (debug/elf's Prog). */
interface ElfProg { type: number; flags: number; off: bigint; vaddr: bigint; filesz: bigint; memsz: bigint }

/**
 * What debug/buildinfo needs from an ELF file's headers: its program headers and where its section
 * header table is. Undefined when the ELF and program headers are not all within `h`.
 */
export interface ElfLayout {
  is64: boolean;
  le: boolean;
  progs: ElfProg[];
  /** File offset of the section header table; 0 when there is none. */
  shoff: bigint;
  shnum: number;
  shentsize: number;
  shstrndx: number;
}

/** Parses the ELF header and program headers in `h` (the first bytes of the file). */
export function elfLayout(h: Buffer): ElfLayout | undefined {
  if (h.length < 64 || (h[4] !== 1 && h[4] !== 2) || (h[5] !== 1 && h[5] !== 2)) return undefined;
  const is64 = h[4] === 2;
  const le = h[5] === 1;
  const u16 = (o: number) => (le ? h.readUInt16LE(o) : h.readUInt16BE(o));
  const u32 = (o: number) => (le ? h.readUInt32LE(o) : h.readUInt32BE(o));
  const uw = (o: number): bigint => (is64 ? (le ? h.readBigUInt64LE(o) : h.readBigUInt64BE(o)) : BigInt(u32(o)));
  const phoff = Number(uw(is64 ? 32 : 28));
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  if (phentsize < (is64 ? 56 : 32) || phoff + phnum * phentsize > h.length) return undefined;
  const progs: ElfProg[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    progs.push(is64
      ? { type: u32(o), flags: u32(o + 4), off: uw(o + 8), vaddr: uw(o + 16), filesz: uw(o + 32), memsz: uw(o + 40) }
      : { type: u32(o), flags: u32(o + 24), off: uw(o + 4), vaddr: uw(o + 8), filesz: uw(o + 16), memsz: uw(o + 20) });
  }
  return {
    is64, le, progs,
    shoff: uw(is64 ? 40 : 32),
    shentsize: u16(is64 ? 58 : 46),
    shnum: u16(is64 ? 60 : 48),
    shstrndx: u16(is64 ? 62 : 50),
  };
}

/** Largest section header table or section-name table read (bytes). */
const MAX_SECTION_TABLE = 1024 * 1024;
/** Most build-info magic offsets remembered per file. */
const MAX_MAGICS = 64;
const U64 = (1n << 64n) - 1n;

/** A file range copied as the stream passes it. */
class RangeCopy {
  readonly buf: Buffer;
  /** The range is copied up to here (bytes are offered in file order). */
  private filled: number;
  constructor(readonly start: number, readonly end: number) { this.buf = Buffer.alloc(end - start); this.filled = start; }
  /** Copies what `c` (at file offset `at`) holds of the range, when it continues what was copied. */
  take(c: Buffer, at: number): void {
    if (at > this.filled) return;
    const e = Math.min(this.end, at + c.length);
    if (this.filled >= e) return;
    c.copy(this.buf, this.filled - this.start, this.filled - at, e - at);
    this.filled = e;
  }
  get complete(): boolean { return this.filled >= this.end; }
}

/** Bytes debug/buildinfo reads from the data start up to Go 1.22 (`ReadData(dataAddr, 64*1024)`). */
const GO122_WINDOW = 64n * 1024n;

/**
 * Where Go's debug/buildinfo (`go version -m`, and the scanners built on it) reads the build info of
 * an ELF file, as a file offset, given every offset at which the magic occurs (ascending).
 * `elfExe.DataStart` takes the address (and size) of the first section named `.go.buildinfo`, else of the
 * first PT_LOAD that is writable and not executable (its memory size); that address is mapped through the
 * first program header (of any type) that covers it. Go releases then differ (golang/go
 * src/debug/buildinfo/buildinfo.go): up to 1.22 the first 64 KiB from there are searched for the first
 * magic at a multiple of 16 bytes from the start, a misaligned magic moving that grid (or looping for
 * ever, no answer) as its `(i+15) &^ 16` step does; from 1.23 `searchMagic` searches the size DataStart
 * gave for the first magic at an address that is a multiple of 16. Either way a magic whose 32-byte header
 * does not fit before the end is no build info.
 * @returns the offset; null when Go finds no build info; 'unread' when the section table was needed
 * but not read; 'ambiguous' when Go releases read different blobs (the scanner cannot be right for both).
 * Where one release finds a blob and another none, the blob is the answer: reading it reports more.
 */
export function goBuildInfoOffset(l: ElfLayout, sections: { shtab?: Buffer; names?: Buffer } | undefined, magics: number[]): number | null | 'unread' | 'ambiguous' {
  let addr: bigint | undefined;
  let size = 0n;
  if (l.shnum > 0 || l.shoff !== 0n) {
    if (!sections?.shtab || !sections.names) return 'unread';
    const t = sections.shtab;
    const u32 = (o: number) => (l.le ? t.readUInt32LE(o) : t.readUInt32BE(o));
    const uw = (o: number): bigint => (l.is64 ? (l.le ? t.readBigUInt64LE(o) : t.readBigUInt64BE(o)) : BigInt(u32(o)));
    for (let i = 0; i < l.shnum && addr === undefined; i++) {
      const o = i * l.shentsize;
      const name = u32(o);
      const nul = sections.names.indexOf(0, name);
      if (name < sections.names.length && nul >= 0 && sections.names.toString('latin1', name, nul) === '.go.buildinfo') {
        addr = uw(o + (l.is64 ? 16 : 12));
        size = uw(o + (l.is64 ? 32 : 20));
      }
    }
  }
  if (addr === undefined) {
    const seg = l.progs.find((p) => p.type === 1 && (p.flags & 3) === 2);
    addr = seg?.vaddr;
    size = seg?.memsz ?? 0n;
  }
  if (addr === undefined) return null;
  // debug/buildinfo: prog.Vaddr <= addr && addr <= prog.Vaddr+prog.Filesz-1, in uint64
  const prog = l.progs.find((p) => p.vaddr <= addr! && addr! <= ((p.vaddr + p.filesz - 1n) & U64));
  if (!prog || prog.filesz === 0n) return null;
  const start = prog.off + (addr - prog.vaddr);
  const progEnd = prog.off + prog.filesz;
  const min = (a: bigint, b: bigint) => (a < b ? a : b);
  /**
   * Go 1.18 to 1.22's loop: the first magic at a multiple of 16 bytes from the slice's start, where a
   * misaligned one at `i` re-slices from `(i+15) &^ 16` (not `&^ 15`): that clears bit 4 only, so the
   * count starts anew off the grid at i+15, or steps back to i-1 and loops for ever (no answer: null).
   */
  const searchUpTo122 = (from: bigint, end: bigint): number | null => {
    let base = from;
    for (const m of magics) {
      const o = BigInt(m);
      if (o < base) continue;
      if (o + 32n > end) return null;
      const i = o - base;
      if (i % 16n === 0n) return m;
      const next = (i + 15n) & ~16n;
      if (next <= i) return null;
      base += next;
    }
    return null;
  };
  /** The first magic from `from` whose header fits before `end` and that `aligned` accepts. */
  const first = (from: bigint, end: bigint, aligned: (o: bigint) => boolean): number | null => {
    for (const m of magics) {
      const o = BigInt(m);
      if (o < from) continue;
      if (o + 32n > end) return null;
      if (aligned(o)) return m;
    }
    return null;
  };
  const upTo122 = searchUpTo122(start, min(progEnd, start + GO122_WINDOW));
  // from 1.23: the start rounded up to the address grid, the end at the size (a zero size is no Go binary)
  const skip = (16n - (addr % 16n)) % 16n;
  const from123 = size === 0n || addr + size > U64 ? null
    : first(start + skip, min(progEnd, start + size), (o) => (prog.vaddr + (o - prog.off)) % 16n === 0n);
  if (upTo122 !== null && from123 !== null && upTo122 !== from123) return 'ambiguous';
  return upTo122 ?? from123;
}

function resultOf(v: { version: string; modinfo: string }, path: string): AnalyzerOutput | undefined {
  if (!v.version) return undefined;
  const info = parseModInfo(v.version, v.modinfo);
  const packages = goPackages(info, path);
  return packages.length ? { packages } : undefined;
}

/** The streaming sink for one executable file. */
class GoSink implements StreamSink {
  private state: 'head' | 'scan' | 'collect' | 'skip' = 'head';
  private head: Buffer[] = [];
  private headLen = 0;
  /** Bytes of the file seen so far. */
  private pos = 0;
  /** Last bytes of the previous chunk (magic split across chunks). */
  private tail = EMPTY;
  private collected: Buffer[] = [];
  private collectedLen = 0;
  private magicAt = -1;
  private spill?: SpillFile;
  private inline?: { version: string; modinfo: string };
  private diag?: Diagnostic;

  constructor(private readonly e: EntryInfo, private readonly ctx: AnalyzerContext) {}

  write(c: Buffer): void {
    if (this.layout && this.state !== 'head') this.observe(c);
    if (this.state === 'skip') {
      if (this.keepSpill && this.spill?.alive) this.feed(c);
      return;
    }
    if (this.state === 'head') {
      // Most executables are decided by their first chunk: not ELF → ignore the rest, no copies.
      if (this.headLen === 0 && c.length >= 4 && !isElfStart(c)) {
        this.state = 'skip';
        return;
      }
      this.head.push(c);
      this.headLen += c.length;
      if (this.headLen < 4) return;
      // Only the first HEAD bytes decide: a file split across chunks is copied whole only when it
      // turns out to be a Go binary (most ELF files of a base image are not; copying each one's
      // next 1 MiB chunk just to drop it was a copy and garbage per chunk boundary).
      const first = this.head.length === 1 ? this.head[0] : Buffer.concat(this.head, Math.min(this.headLen, HEAD));
      if (!first.subarray(0, 4).equals(ELF)) { this.state = 'skip'; this.head = []; return; }
      if (this.headLen < HEAD && this.headLen < this.e.size) return;
      const parts = this.head;
      this.head = [];
      this.headLen = 0;
      this.state = 'scan';
      this.startObserving(first);
      if (this.layout) for (const part of parts) this.observe(part);
      const note = first.subarray(0, HEAD).indexOf(GO_NOTE);
      if (!(note >= 12 && first.readUInt32LE(note - 4) === 4 && first.readUInt32LE(note - 12) === 4)) {
        // The Go linker writes its build-ID note (owner "Go") at the start of every ELF it links, but
        // the binary runs without it (`objcopy -R .note.go.buildid`) and `go version -m` reads its
        // build info all the same: the note only decides the spill (for the pre-1.18 pointer form).
        // Without it (most ELF files of a base image are C/C++) the writable segment is still searched
        // for the build-info magic as it passes, chunk by chunk: one indexOf, nothing copied.
        const rw = writableSegment(first);
        if (rw) { this.winStart = rw.start; this.winEnd = rw.end; }
        for (const part of parts) this.feed(part);
        return;
      }
      const h = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      const rw = writableSegment(h);
      if (rw) { this.winStart = rw.start; this.winEnd = rw.end; }
      this.spill = new SpillFile(this.ctx.spill, 'go');
      this.feed(h);
      return;
    }
    this.feed(c);
  }

  private feed(c: Buffer): void {
    if (this.spill?.alive && !this.spill.write(c)) {
      this.diag = { code: 'spill-limit', path: this.e.path, message: `lang/go-binary: the file does not fit in the scan's temp-space limit (${this.ctx.spill.limitBytes} bytes); pre-1.18 build info cannot be read`, incomplete: true };
    }
    if (this.state === 'skip') return;
    if (this.state === 'scan') {
      // Search only the first writable PT_LOAD segment, where the linker puts .go.buildinfo
      // (debug/buildinfo looks there too when the section table is not at hand).
      const s0 = Math.max(0, this.winStart - this.pos);
      const e0 = Math.min(c.length, this.winEnd - this.pos);
      if (s0 >= e0) {
        this.pos += c.length;
        if (this.pos >= this.winEnd) this.passedWindow();
        return;
      }
      if (s0 > 0) this.tail = EMPTY;
      const part = c.subarray(s0, e0);
      let i = part.indexOf(MAGIC);
      let from: Buffer = c.subarray(s0);
      let base = this.pos + s0;
      if (i < 0 && this.tail.length) {
        const joined = Buffer.concat([this.tail, part.subarray(0, MAGIC.length - 1)]);
        const j = joined.indexOf(MAGIC);
        if (j >= 0) { i = j; from = Buffer.concat([this.tail, c]); base = this.pos - this.tail.length; }
      }
      if (i >= 0) {
        this.magicAt = base + i;
        this.state = 'collect';
        this.collected = [from.subarray(i)];
        this.collectedLen = from.length - i;
      } else {
        this.tail = Buffer.from(part.subarray(Math.max(0, part.length - (MAGIC.length - 1))));
      }
      this.pos += c.length;
      if (this.state === 'collect') this.tryInline();
      else if (this.pos >= this.winEnd) this.passedWindow();
      return;
    }
    this.pos += c.length;
    if (this.state === 'collect') {
      this.collected.push(c);
      this.collectedLen += c.length;
      this.tryInline();
    }
  }

  private tryInline(): void {
    const b = this.collected.length === 1 ? this.collected[0] : Buffer.concat(this.collected);
    this.collected = [b];
    const r = parseInlineBuildInfo(b);
    if (r === 'more') {
      if (this.collectedLen > MAX_INFO + 64) this.state = 'skip';
      return;
    }
    this.collected = [];
    if (r === 'pointer') {
      // Keep spilling to the end: the strings are elsewhere in the file.
      this.state = 'skip';
      this.keepSpill = true;
      // Not spilled (no Go note at the start): the pre-1.18 strings cannot be reached from the stream.
      if (!this.spill) this.diag = { code: 'parse-error', path: this.e.path, message: 'lang/go-binary: pre-1.18 Go build info in an ELF file without the Go build-ID note (not copied, so not read); not judged', incomplete: true };
      return;
    }
    this.inline = r;
    this.state = 'skip';
    this.spill?.release();
  }

  /** ELF and program headers, once the head is read (every ELF file's bytes are observed from then). */
  private layout?: ElfLayout;
  private headBuf: Buffer = EMPTY;
  /** Bytes of the file observed so far. */
  private seen = 0;
  /** File offsets of every build-info magic in the file, ascending (at most MAX_MAGICS). */
  private magics: number[] = [];
  private magicsOver = false;
  private mTail = EMPTY;
  private shtabCopy?: RangeCopy;
  private namesCopy?: RangeCopy;
  /** The section header table or its name table cannot be read (too large, out of the file, passed). */
  private sectionsUnread = false;
  /** The ELF headers are not within the first HEAD bytes: where Go reads cannot be told. */
  private headersUnread = false;

  /** Sets up the observation of an ELF file from its first bytes `first`. */
  private startObserving(first: Buffer): void {
    this.layout = elfLayout(first);
    if (!this.layout) {
      // Still searched for the magic (the whole file is the window), but debug/buildinfo's choice is unknown.
      this.headersUnread = true;
      this.layout = { is64: true, le: true, progs: [], shoff: 0n, shnum: 0, shentsize: 0, shstrndx: 0 };
      return;
    }
    this.headBuf = first;
    const l = this.layout;
    if (l.shnum === 0 && l.shoff === 0n) return;
    const len = l.shnum * l.shentsize;
    if (l.shnum === 0 || l.shentsize < (l.is64 ? 64 : 40) || l.shstrndx >= l.shnum || len > MAX_SECTION_TABLE || l.shoff + BigInt(len) > BigInt(this.e.size)) {
      this.sectionsUnread = true;
      return;
    }
    this.shtabCopy = new RangeCopy(Number(l.shoff), Number(l.shoff) + len);
  }

  /** Records the magics in `c` (the next bytes of the file) and copies the section tables it holds. */
  private observe(c: Buffer): void {
    const at = this.seen;
    this.seen += c.length;
    const m = MAGIC.length - 1;
    if (!this.magicsOver) {
      // A magic that began in the last bytes seen and ends in `c` (compared in place, nothing joined).
      const t = this.mTail;
      for (let k = Math.min(m, t.length); k >= 1; k--) {
        if (c.length >= MAGIC.length - k && t.compare(MAGIC, 0, k, t.length - k) === 0 && c.compare(MAGIC, k, MAGIC.length, 0, MAGIC.length - k) === 0) this.addMagic(at - k);
      }
      for (let i = c.indexOf(MAGIC); i >= 0; i = c.indexOf(MAGIC, i + 1)) this.addMagic(at + i);
      this.mTail = c.length >= m ? Buffer.from(c.subarray(c.length - m)) : Buffer.from([...t, ...c].slice(-m));
    }
    if (this.sectionsUnread) return;
    if (this.shtabCopy && !this.shtabCopy.complete) {
      this.shtabCopy.take(c, at);
      if (this.shtabCopy.complete) this.armNames(at);
    }
    this.namesCopy?.take(c, at);
  }

  private addMagic(o: number): void {
    if (this.magics.length >= MAX_MAGICS) { this.magicsOver = true; return; }
    this.magics.push(o);
  }

  /** The section header table is read: copy its section-name table, from the head or as it passes. */
  private armNames(at: number): void {
    const l = this.layout!;
    const t = this.shtabCopy!.buf;
    const o = l.shstrndx * l.shentsize;
    const u32 = (x: number) => (l.le ? t.readUInt32LE(x) : t.readUInt32BE(x));
    const uw = (x: number): bigint => (l.is64 ? (l.le ? t.readBigUInt64LE(x) : t.readBigUInt64BE(x)) : BigInt(u32(x)));
    const type = u32(o + 4);
    const off = uw(o + (l.is64 ? 24 : 16));
    const size = type === 8 ? 0n : uw(o + (l.is64 ? 32 : 20)); // SHT_NOBITS holds no bytes
    if (size > BigInt(MAX_SECTION_TABLE) || off + size > BigInt(this.e.size)) { this.sectionsUnread = true; return; }
    const names = new RangeCopy(Number(off), Number(off + size));
    names.take(this.headBuf, 0);
    if (!names.complete && names.start < at) { this.sectionsUnread = true; return; }
    this.namesCopy = names;
  }

  /**
   * An incomplete diagnostic when the build info read here is not the one debug/buildinfo reads
   * (a decoy blob placed first in the data segment with the `.go.buildinfo` section pointing elsewhere,
   * a misaligned magic, an executable writable segment), or when that cannot be told.
   */
  private buildInfoCheck(): Diagnostic | undefined {
    if (!this.layout || this.magics.length === 0) return undefined;
    const ours = this.magicAt < 0 ? null : this.magicAt;
    const go = this.magicsOver || this.headersUnread
      ? 'unread'
      : goBuildInfoOffset(this.layout, this.sectionsUnread ? undefined : { shtab: this.shtabCopy?.complete ? this.shtabCopy.buf : undefined, names: this.namesCopy?.complete ? this.namesCopy.buf : undefined }, this.magics);
    if (go === ours) return undefined;
    const where = go === 'unread'
      ? 'cannot be told (ELF headers or section table out of reach, or more than 64 build-info markers)'
      : go === 'ambiguous' ? 'depends on the Go release (up to 1.22 counts 16-byte steps from the data start, 1.23 on from address 0)'
      : go === null ? 'is nowhere (Go finds no build info)' : `is at file offset ${go}`;
    return {
      code: 'go-buildinfo-ambiguous', path: this.e.path, incomplete: true,
      message: `lang/go-binary: the file holds the Go build-info marker ${this.magics.length}${this.magicsOver ? '+' : ''} time(s); the scanner read ${ours === null ? 'none' : `the one at file offset ${ours}`}, while the one Go's debug/buildinfo (go version -m) reads ${where}; the modules linked into this binary are not judged`,
    };
  }

  private keepSpill = false;
  /** File range searched for the magic (the first writable segment; the whole file if unknown). */
  private winStart = 0;
  private winEnd = Number.POSITIVE_INFINITY;

  /** The search window passed without the magic: not a Go binary (or one without build info). */
  private passedWindow(): void {
    this.state = 'skip';
    this.spill?.release();
  }

  end(): AnalyzerOutput | undefined {
    try {
      let out: AnalyzerOutput | undefined;
      if (this.inline) out = resultOf(this.inline, this.e.path);
      else if (this.keepSpill && this.spill?.alive) {
        this.spill.close();
        out = resultOf(readPointerBuildInfo(this.spill.file, this.magicAt), this.e.path);
      } else if (this.keepSpill && this.diag) out = { diagnostics: [this.diag] };
      const check = this.buildInfoCheck();
      if (check) out = { ...out, diagnostics: [...(out?.diagnostics ?? []), check] };
      return out;
    } finally {
      this.spill?.release();
    }
  }

  abort(): void {
    this.spill?.release();
  }
}

/** Largest file read (4 GiB). */
const GO_MAX = 4 * 1024 ** 3;

/**
 * The analyzer: regular files of at least 1 KiB, executable or not. A Go binary without the
 * executable bit still runs (`cp` and `chmod +x` at start-up, or an entrypoint that does it), so the
 * mode is no evidence: the content decides, as syft's Go binary cataloger decides by the file's
 * detected MIME type rather than its mode (trivy asks for the executable bit). The sink drops a file
 * at its first chunk unless it starts with the ELF magic, and reads on only with the Go build-ID
 * note, so the cost for other files is one look at four bytes. Files over 4 GiB are read only when
 * executable (reported `file-too-large` as before); a non-executable one that large is left unread
 * rather than making every scan of a large data file incomplete.
 */
export const goBinaryAnalyzer: Analyzer = {
  name: 'lang/go-binary',
  // 5: the blob read is the one debug/buildinfo reads (section, segment rule, alignment), or incomplete.
  version: 5,
  maxSize: GO_MAX,
  wants: (e) => e.size >= 1024 && (e.size <= GO_MAX || (e.mode & 0o111) !== 0),
  stream: (e, ctx) => new GoSink(e, ctx),
};
