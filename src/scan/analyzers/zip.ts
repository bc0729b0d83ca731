/**
 * The zip reader the archive analyzers share (yauzl, loaded on first use): the Java archives and
 * Python's zipped eggs are read through it, with the same options (entry sizes checked against the
 * central directory, names kept as written).
 */
import { createRequire } from 'node:module';
import type * as Yauzl from 'yauzl';

// yauzl (CommonJS) is required on first use: a scan that meets no archive never loads or parses it.
const requireCjs = createRequire(import.meta.url);
let yauzlLib: typeof Yauzl | undefined;
const yauzl = (): typeof Yauzl => (yauzlLib ??= requireCjs('yauzl') as typeof Yauzl);

export type { Entry as ZipEntry, ZipFile } from 'yauzl';

/**
 * Opens the zip at `file` for reading entry by entry (`lazyEntries`: the caller calls `readEntry`).
 * @throws whatever yauzl reports for a file that is not a zip it can read (no end record, a central
 *   directory that does not add up, a zip64 field out of range).
 */
export function openZip(file: string): Promise<Yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl().open(file, { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true }, (err, zip) => (err || !zip ? reject(err ?? new Error('cannot open')) : resolve(zip)));
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
