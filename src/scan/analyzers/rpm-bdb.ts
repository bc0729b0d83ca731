/**
 * The two older rpmdb formats, read without any database library:
 *
 * **Berkeley DB hash** (`/var/lib/rpm/Packages`, rpm < 4.16; Berkeley DB's on-disk format,
 * libdb src/dbinc/db_page.h, as knqyf263/go-rpmdb pkg/bdb reads it): page 0 is the hash metadata
 * page (magic 0x061561 at offset 12, page size at 20, last page number at 32, encryption byte at
 * 24). Every page has a 26-byte header (next page number at 16, entry count at 20, free-area
 * offset at 22, page type at 25). Hash pages (type 2 unsorted, 13 sorted) hold an index of 2-byte
 * item offsets after the header, keys and values alternating; a value of item type 3 (H_OFFPAGE:
 * type, 3 unused bytes, first page number, total length) lives in a chain of overflow pages whose
 * data starts after the page header (on the last page, `free-area offset` bytes of it). Each value
 * is one RPM header blob. Byte order follows the metadata magic.
 *
 * **NDB** (`/usr/lib/sysimage/rpm/Packages.db`, SUSE; rpm lib/backend/ndb/rpmpkg.c): a header
 * (`RpmP` magic, version 0, generation, number of slot pages) taking two 16-byte slots, then
 * `slotPages × 256 − 2` slots (`Slot` magic, package index, block offset, block count; index 0 =
 * empty), each pointing (offset × 16 bytes) to a blob (`BlbS` magic, package index, checksum,
 * length) followed by the header blob. Little-endian.
 *
 * Both read from a file (the walker's spilled copy) with positioned reads: memory is one page or
 * one header at a time.
 */
import fs from 'node:fs';

const HASH_MAGIC = 0x061561;
const PAGE_HEADER = 26;
const H_OFFPAGE = 3;
const P_HASH_UNSORTED = 2;
const P_HASH = 13;
/** Largest header blob accepted (rpm itself caps headers at 256 MiB). */
const MAX_BLOB = 256 * 1024 * 1024;

function pread(fd: number, pos: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  const got = fs.readSync(fd, b, 0, n, pos);
  if (got !== n) throw new Error(`short read at ${pos} (${got} of ${n} bytes)`);
  return b;
}

/**
 * Reads every package header blob of a Berkeley DB hash `Packages` file.
 * @throws Error when the file is not a Berkeley DB hash database, is encrypted, or a page chain is
 *   broken (a `parse-error` diagnostic).
 */
export function readBdbBlobs(file: string): Buffer[] {
  const fd = fs.openSync(file, 'r');
  try {
    const meta = pread(fd, 0, 512);
    let le = true;
    if (meta.readUInt32LE(12) !== HASH_MAGIC) {
      if (meta.readUInt32BE(12) !== HASH_MAGIC) throw new Error('not a Berkeley DB hash database (bad magic)');
      le = false;
    }
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const pageSize = u32(meta, 20);
    const lastPage = u32(meta, 32);
    if (meta[24] !== 0) throw new Error('encrypted Berkeley DB databases are not supported');
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1))) throw new Error(`bad page size ${pageSize}`);
    const size = fs.fstatSync(fd).size;
    if ((lastPage + 1) * pageSize > size) throw new Error(`last page ${lastPage} is past the end of the file`);
    const blobs: Buffer[] = [];
    // Each overflow page holds part of one value: a page reached twice (many items naming one chain,
    // or chains that meet) would be read and kept once per item, so a few MiB of pages named by a
    // page of 30,000 items held more than the process has.
    const taken = new Uint8Array(lastPage + 1);
    for (let pg = 1; pg <= lastPage; pg++) {
      const page = pread(fd, pg * pageSize, pageSize);
      const type = page[25];
      if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
      const entries = u16(page, 20);
      if (PAGE_HEADER + entries * 2 > pageSize) throw new Error(`page ${pg}: ${entries} entries do not fit`);
      for (let i = 1; i < entries; i += 2) {
        const off = u16(page, PAGE_HEADER + i * 2);
        if (off + 12 > pageSize || page[off] !== H_OFFPAGE) continue;
        let next = u32(page, off + 4);
        const total = u32(page, off + 8);
        if (total > MAX_BLOB) throw new Error(`page ${pg}: value of ${total} bytes is too large`);
        const parts: Buffer[] = [];
        let have = 0;
        let hops = 0;
        while (next !== 0) {
          if (next > lastPage || ++hops > lastPage) throw new Error(`page ${pg}: overflow chain points to page ${next} (broken or looping)`);
          if (taken[next]) throw new Error(`page ${pg}: overflow page ${next} is part of another value too`);
          taken[next] = 1;
          const ov = pread(fd, next * pageSize, pageSize);
          const nn = u32(ov, 16);
          const len = nn === 0 ? u16(ov, 22) : pageSize - PAGE_HEADER;
          if (PAGE_HEADER + len > pageSize) throw new Error(`overflow page ${next}: bad length ${len}`);
          parts.push(ov.subarray(PAGE_HEADER, PAGE_HEADER + len));
          have += len;
          next = nn;
        }
        const blob = Buffer.concat(parts, have);
        blobs.push(have > total ? blob.subarray(0, total) : blob);
      }
    }
    return blobs;
  } finally {
    fs.closeSync(fd);
  }
}

const NDB_HEADER_MAGIC = 0x506d7052; // 'RpmP'
const NDB_SLOT_MAGIC = 0x746f6c53; // 'Slot'
const NDB_BLOB_MAGIC = 0x53626c42; // 'BlbS'

/**
 * Reads every package header blob of an NDB `Packages.db` file.
 * @throws Error on a bad magic, version or slot (a `parse-error` diagnostic).
 */
export function readNdbBlobs(file: string): Buffer[] {
  const fd = fs.openSync(file, 'r');
  try {
    const h = pread(fd, 0, 32);
    if (h.readUInt32LE(0) !== NDB_HEADER_MAGIC) throw new Error('not an rpm NDB database (bad magic)');
    if (h.readUInt32LE(4) !== 0) throw new Error(`NDB version ${h.readUInt32LE(4)} is not supported`);
    const slotPages = h.readUInt32LE(12);
    if (slotPages === 0 || slotPages > 2048) throw new Error(`NDB: bad slot page count ${slotPages}`);
    const nslots = slotPages * 256 - 2;
    const slots = pread(fd, 32, nslots * 16);
    const size = fs.fstatSync(fd).size;
    // Slots of a real database point to blobs that do not overlap (rpm allocates each blob its own
    // blocks): 500,000 slots naming one MiB blob were read and kept 500,000 times. The blobs are
    // placed first and read only when none overlaps, so the reads stay within the file.
    const placed: Array<{ slot: number; at: number; len: number }> = [];
    for (let i = 0; i < nslots; i++) {
      const o = i * 16;
      if (slots.readUInt32LE(o) !== NDB_SLOT_MAGIC) throw new Error(`NDB: slot ${i} has a bad magic`);
      const pkgIndex = slots.readUInt32LE(o + 4);
      if (pkgIndex === 0) continue;
      const at = slots.readUInt32LE(o + 8) * 16;
      if (at + 16 > size) throw new Error(`NDB: slot ${i} points past the end of the file`);
      const bh = pread(fd, at, 16);
      if (bh.readUInt32LE(0) !== NDB_BLOB_MAGIC) throw new Error(`NDB: blob of slot ${i} has a bad magic`);
      if (bh.readUInt32LE(4) !== pkgIndex) throw new Error(`NDB: blob of slot ${i} belongs to package ${bh.readUInt32LE(4)}, not ${pkgIndex}`);
      const len = bh.readUInt32LE(12);
      if (len > MAX_BLOB || at + 16 + len > size) throw new Error(`NDB: blob of slot ${i} has a bad length ${len}`);
      placed.push({ slot: i, at, len });
    }
    const byPlace = [...placed].sort((a, b) => a.at - b.at);
    for (let k = 1; k < byPlace.length; k++) {
      const a = byPlace[k - 1]!, b = byPlace[k]!;
      if (b.at < a.at + 16 + a.len) throw new Error(`NDB: the blobs of slots ${a.slot} and ${b.slot} overlap (blobs shared between slots)`);
    }
    const blobs: Buffer[] = [];
    for (const { at, len } of placed) blobs.push(pread(fd, at + 16, len));
    return blobs;
  } finally {
    fs.closeSync(fd);
  }
}
