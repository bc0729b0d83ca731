/**
 * RPM header blobs (rpm lib/header.c headerImport, the "header structure" of the RPM file format
 * https://rpm-software-management.github.io/rpm/manual/format_header.html): big-endian
 * `il` (index entry count) and `dl` (data length), `il` 16-byte entries `tag, type, offset, count`, then
 * the data store. The rpmdb backends (SQLite, Berkeley DB, NDB) all store one such blob per package.
 */

/** The package fields pushgate reads from a header. */
export interface RpmHeader {
  name: string;
  epoch?: number;
  version: string;
  release: string;
  arch?: string;
  sourceRpm?: string;
  modularityLabel?: string;
  license?: string;
  vendor?: string;
  /** Absolute paths of the files the package owns (BASENAMES/DIRNAMES/DIRINDEXES or OLDFILENAMES). */
  files: string[];
}

const T = {
  NAME: 1000, VERSION: 1001, RELEASE: 1002, EPOCH: 1003, VENDOR: 1011, LICENSE: 1014, ARCH: 1022,
  OLDFILENAMES: 1027, SOURCERPM: 1044, DIRINDEXES: 1116, BASENAMES: 1117, DIRNAMES: 1118, MODULARITYLABEL: 5096,
} as const;
/** The tags {@link parseRpmHeader} reads (the only ones it parses). */
const READ_TAGS: ReadonlySet<number> = new Set(Object.values(T));
/**
 * Most strings and numbers read from one header's tags: the largest real packages own a few hundred
 * thousand files (texlive's, kernel sources), each a base name, a directory index and at most one
 * directory name.
 */
const MAX_STRINGS = 4_000_000;
const STRING = 6, STRING_ARRAY = 8, I18NSTRING = 9, INT32 = 4;

/**
 * Parses one header blob.
 * @throws Error when the blob is too short or an entry points outside the data store.
 */
export function parseRpmHeader(blob: Buffer): RpmHeader {
  if (blob.length < 8) throw new Error('rpm header: blob shorter than 8 bytes');
  const il = blob.readUInt32BE(0);
  const dl = blob.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  if (il > 100_000 || dl > 256 * 2 ** 20 || dataStart + dl > blob.length) throw new Error(`rpm header: bad sizes (il ${il}, dl ${dl}, blob ${blob.length})`);
  // Only the tags read below are parsed, each from its last index entry (as before: a later entry of a
  // tag replaces an earlier one), so the work is the index plus one pass over the data per tag. Every
  // entry was parsed before: 1,000 string-array entries of count 2^32 over the same 64 KiB (2 KB
  // gzipped) took 9 s on the scan thread, 100,000 over a MiB hours and each entry's array of a million
  // strings kept.
  const last = new Map<number, number>();
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = blob.readUInt32BE(e);
    if (!READ_TAGS.has(tag)) continue;
    const type = blob.readUInt32BE(e + 4);
    const off = blob.readInt32BE(e + 8);
    if (off < 0 || off >= dl) continue;
    // a tag's strings and its numbers are kept apart, as each entry's were
    if (type === STRING || type === STRING_ARRAY || type === I18NSTRING) last.set(tag * 2, e);
    else if (type === INT32) last.set(tag * 2 + 1, e);
  }
  const strings = new Map<number, string[]>();
  const ints = new Map<number, number[]>();
  let kept = 0;
  for (const [key, e] of last) {
    const tag = key >>> 1;
    const type = blob.readUInt32BE(e + 4);
    const count = blob.readUInt32BE(e + 12);
    const p = dataStart + blob.readInt32BE(e + 8);
    if (type === STRING || type === STRING_ARRAY || type === I18NSTRING) {
      const n = type === STRING ? 1 : count;
      const out: string[] = [];
      let q = p;
      for (let k = 0; k < n && q < dataStart + dl; k++) {
        // Empty strings cost a byte of data each: 256 MiB of zeros named a quarter of a billion files.
        if (++kept > MAX_STRINGS) throw new Error(`rpm header: more than ${MAX_STRINGS} strings in the tags read`);
        const z = blob.indexOf(0, q);
        const end = z < 0 || z > dataStart + dl ? dataStart + dl : z;
        out.push(blob.toString('utf8', q, end));
        q = end + 1;
      }
      strings.set(tag, out);
    } else if (type === INT32) {
      const out: number[] = [];
      for (let k = 0; k < count && p + k * 4 + 4 <= dataStart + dl; k++) {
        if (++kept > MAX_STRINGS) throw new Error(`rpm header: more than ${MAX_STRINGS} values in the tags read`);
        out.push(blob.readInt32BE(p + k * 4));
      }
      ints.set(tag, out);
    }
  }
  const s = (t: number) => strings.get(t)?.[0];
  let files: string[] = [];
  const base = strings.get(T.BASENAMES);
  const dirs = strings.get(T.DIRNAMES);
  const idx = ints.get(T.DIRINDEXES);
  if (base && dirs && idx) files = base.map((b, i) => `${dirs[idx[i]] ?? ''}${b}`);
  else if (strings.get(T.OLDFILENAMES)) files = strings.get(T.OLDFILENAMES)!;
  const epoch = ints.get(T.EPOCH)?.[0];
  return {
    name: s(T.NAME) ?? '', version: s(T.VERSION) ?? '', release: s(T.RELEASE) ?? '', epoch,
    arch: s(T.ARCH), sourceRpm: s(T.SOURCERPM), modularityLabel: s(T.MODULARITYLABEL), license: s(T.LICENSE), vendor: s(T.VENDOR), files,
  };
}

/** Source package name from a source RPM file name (`util-linux-2.32.1-42.el8_8.src.rpm` → `util-linux`). */
export function sourceRpmName(srpm: string | undefined): { name: string; version: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(srpm ?? '');
  return m ? { name: m[1], version: `${m[2]}-${m[3]}` } : undefined;
}
