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
    if (type === STRING || type === STRING_ARRAY || type === I18NSTRING) {
      const n = type === STRING ? 1 : count;
      const out: string[] = [];
      let q = p;
      for (let k = 0; k < n && q < dataStart + dl; k++) {
        const z = blob.indexOf(0, q);
        const end = z < 0 || z > dataStart + dl ? dataStart + dl : z;
        out.push(blob.toString('utf8', q, end));
        q = end + 1;
      }
      strings.set(tag, out);
    } else if (type === INT32) {
      const out: number[] = [];
      for (let k = 0; k < count && p + k * 4 + 4 <= dataStart + dl; k++) out.push(blob.readInt32BE(p + k * 4));
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
