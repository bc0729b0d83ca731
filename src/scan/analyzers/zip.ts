/**
 * The zip reader the archive analyzers share (yauzl, loaded on first use): the Java archives and
 * Python's zipped eggs are read through it, with the same options (entry sizes checked against the
 * central directory, names kept as written).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type * as Yauzl from 'yauzl';
import type { Diagnostic } from '../../core/index.js';

// yauzl (CommonJS) is required on first use: a scan that meets no archive never loads or parses it.
const requireCjs = createRequire(import.meta.url);
let yauzlLib: typeof Yauzl | undefined;
const yauzl = (): typeof Yauzl => (yauzlLib ??= requireCjs('yauzl') as typeof Yauzl);

export type { Entry as ZipEntry, ZipFile } from 'yauzl';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;

/**
 * The bytes before the zip proper in `fd` (of `size` bytes): Python's zipfile `concat`
 * (`_RealGetContents`: the end record's position less the central directory's size and offset, less
 * the zip64 end record and locator when there are), which Python's zipfile and zipimport (and Java's
 * ZipFile, `locpos`) add to every offset the zip records, so a zip with data prepended (a
 * self-extracting archive, a launch script) is read whole. yauzl reads the offsets from the file's
 * start: on such a file it reads whatever central directory the prepended bytes hold there.
 * The end record is found as `_EndRecData` finds it: in the last 22 bytes with an empty comment, else
 * the last signature in the last 64 KiB + 22 bytes. 0 when there is none (the reader then refuses the file).
 */
function prependedLength(fd: number, size: number): number {
  const n = Math.min(size, 65_536 + 22);
  const tail = Buffer.alloc(n);
  fs.readSync(fd, tail, 0, n, size - n);
  let at = n >= 22 && tail.readUInt32LE(n - 22) === EOCD && tail.readUInt16LE(n - 2) === 0 ? n - 22 : tail.lastIndexOf(Buffer.from('PK\x05\x06', 'latin1'));
  if (at < 0 || at + 22 > n) return 0;
  let cdSize = tail.readUInt32LE(at + 12);
  let cdOffset = tail.readUInt32LE(at + 16);
  const pos = size - n + at;
  let extra = 0;
  if (pos >= 20) {
    const loc = Buffer.alloc(20);
    fs.readSync(fd, loc, 0, 20, pos - 20);
    if (loc.readUInt32LE(0) === ZIP64_LOCATOR && pos >= 76) {
      const rec = Buffer.alloc(56);
      fs.readSync(fd, rec, 0, 56, pos - 76);
      if (rec.readUInt32LE(0) === ZIP64_EOCD) {
        cdSize = Number(rec.readBigUInt64LE(40));
        cdOffset = Number(rec.readBigUInt64LE(48));
        extra = 76;
      }
    }
  }
  at = pos - cdSize - cdOffset - extra;
  return at > 0 && Number.isSafeInteger(at) ? at : 0;
}

/**
 * Opens the zip at `file` for reading entry by entry (`lazyEntries`: the caller calls `readEntry`).
 * Data prepended to the zip is skipped as Python's zipfile and Java's ZipFile skip it
 * ({@link prependedLength}): the entries are those the runtimes read.
 * @throws whatever yauzl reports for a file that is not a zip it can read (no end record, a central
 *   directory that does not add up, a zip64 field out of range).
 */
export function openZip(file: string): Promise<Yauzl.ZipFile> {
  const options = { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true };
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zip?: Yauzl.ZipFile): void => (err || !zip ? reject(err ?? new Error('cannot open')) : resolve(zip));
    let shift: number;
    let size: number;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        size = fs.fstatSync(fd).size;
        shift = prependedLength(fd, size);
      } finally {
        fs.closeSync(fd);
      }
    } catch (err) {
      reject(err as Error);
      return;
    }
    if (!shift) {
      yauzl().open(file, options, done);
      return;
    }
    // The zip as the runtimes see it: the file from `shift` on. Each range is its own stream of the file
    // by name (yauzl destroys streams it is done with, and a destroyed stream closes its descriptor).
    const reader = new (yauzl().RandomAccessReader as unknown as new () => Yauzl.RandomAccessReader)();
    (reader as unknown as { _readStreamForRange: (start: number, end: number) => NodeJS.ReadableStream })._readStreamForRange = (start, end) => fs.createReadStream(file, { start: start + shift, end: end + shift - 1 });
    yauzl().fromRandomAccessReader(reader, size - shift, options, done);
  });
}

/** The inflated bytes of entry `e`, as a stream. @throws when the entry cannot be opened (unknown method, encrypted). */
export function entryStream(zip: Yauzl.ZipFile, e: Yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => zip.openReadStream(e, (err, s) => (err || !s ? reject(err ?? new Error('cannot read entry')) : resolve(s))));
}

/**
 * The whole of entry `e` as UTF-8 text.
 * @param max largest uncompressed size read, in bytes
 * @throws when the entry is larger than `max` or cannot be read
 */
export async function readEntryText(zip: Yauzl.ZipFile, e: Yauzl.Entry, max: number): Promise<string> {
  if (e.uncompressedSize > max) throw new Error(`${e.fileName}: ${e.uncompressedSize} bytes is too large`);
  const parts: Buffer[] = [];
  for await (const c of await entryStream(zip, e)) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Walks the entries of `zip` one at a time, in central-directory order, awaiting `onEntry` for each
 * before the next is read, and closes it. What it cannot read is a diagnostic, never a throw: past
 * `maxEntries` entries an incomplete `archive-limit` (the rest unread); an error of the zip or of
 * `onEntry` an incomplete `parse-error`, both at `display` and named by `analyzer`, pushed onto `diagnostics`.
 */
export async function eachZipEntry(
  zip: Yauzl.ZipFile,
  o: { analyzer: string; display: string; maxEntries: number; diagnostics: Diagnostic[] },
  onEntry: (e: Yauzl.Entry) => void | Promise<void>,
): Promise<void> {
  try {
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (e: Yauzl.Entry) => {
        if (++seen > o.maxEntries) {
          o.diagnostics.push({ code: 'archive-limit', path: o.display, message: `${o.analyzer}: more than ${o.maxEntries} entries; the rest was not read`, incomplete: true });
          resolve();
          return;
        }
        // Called in a promise, so a throw of a callback that is not async is a diagnostic too (thrown here it
        // would leave yauzl's emit, an uncaught exception, and the walk never settle).
        Promise.resolve().then(() => onEntry(e)).then(() => zip.readEntry(), reject);
      });
      zip.readEntry();
    });
  } catch (err) {
    o.diagnostics.push({ code: 'parse-error', path: o.display, message: `${o.analyzer}: ${err instanceof Error ? err.message : String(err)}`, incomplete: true });
  } finally {
    zip.close();
  }
}

/**
 * Every name entry `e` goes by in a runtime that reads zips, first yauzl's: yauzl (and libzip) take an
 * Info-ZIP Unicode Path extra field (0x7075) whose CRC matches over the name field, and yauzl reads
 * backslashes as `/`; Python's zipfile (3.11) reads the name field as written (UTF-8 under flag bit 11,
 * else cp437) and cuts it at the first NUL (`ZipInfo.__init__`), so `EGG-INFO/PKG-INFO\0x` is
 * `EGG-INFO/PKG-INFO` to importlib.metadata; newer CPython also reads a 0x7075 name, cut at its NUL, the
 * last of several. A name yauzl alone reads would hide the entry from the scan: an analyzer matches each
 * of these names (never empty; more names only report more).
 */
export function entryNames(e: Yauzl.Entry): string[] {
  const written = yauzl().getFileNameLowLevel(e.generalPurposeBitFlag, e.fileNameRaw, [], true);
  const names = new Set([e.fileName, written, cutAtNul(written)]);
  // Newer CPython zipfile (gh-86094) takes a 0x7075 name too, cut at its NUL, the last valid field of
  // several where yauzl takes the first: every such name (CRC valid or not: a superset) is one.
  for (const f of e.extraFields ?? []) {
    if (f.id !== 0x7075 || f.data.length < 5) continue;
    const unicode = f.data.subarray(5).toString('utf8');
    names.add(unicode).add(cutAtNul(unicode));
  }
  names.delete('');
  return [...names];
}

/** `name` up to its first NUL (all of it without one). */
function cutAtNul(name: string): string {
  const cut = name.indexOf('\0');
  return cut >= 0 ? name.slice(0, cut) : name;
}
