/**
 * Whether a SQLite write-ahead log (`<db>-wal`, https://sqlite.org/fileformat2.html#walformat) holds
 * a committed transaction that SQLite would read over the main database file. Every connection that
 * opens a WAL-mode database and finds no valid wal-index first recovers it from the log as
 * `walIndexRecover` (sqlite3 src/wal.c) does: a 32-byte header (magic 0x377f0682/0x377f0683, format
 * 3007000, a power-of-two page size, salts, a checksum of its first 24 bytes), then frames of a
 * 24-byte header (page number, database size after commit, the header's salts, a cumulative checksum)
 * and one page each. Frames are valid up to the first whose salts or checksum do not match, and
 * only those up to the last valid commit frame (a non-zero database size) are read.
 */
import fs from 'node:fs';

const MAGIC = 0x377f0682;
const FORMAT = 3007000;
const HEADER = 32;
const FRAME_HEADER = 24;

/** Fletcher-like checksum of SQLite's WAL over 8-byte blocks of `b` (wal.c walChecksumBytes). */
function checksum(b: Buffer, bigEndian: boolean, s: [number, number]): [number, number] {
  let s1 = s[0], s2 = s[1];
  for (let i = 0; i + 8 <= b.length; i += 8) {
    const x0 = bigEndian ? b.readUInt32BE(i) : b.readUInt32LE(i);
    const x1 = bigEndian ? b.readUInt32BE(i + 4) : b.readUInt32LE(i + 4);
    s1 = (s1 + x0 + s2) >>> 0;
    s2 = (s2 + x1 + s1) >>> 0;
  }
  return [s1, s2];
}

/**
 * The number of frames SQLite reads from the WAL at `file` (those up to its last valid commit frame):
 * 0 when the log is empty, its header is not valid, or no valid frame commits. Reads the file one
 * frame at a time (memory of one page).
 */
export function committedWalFrames(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(HEADER);
    if (fs.readSync(fd, head, 0, HEADER, 0) < HEADER) return 0;
    const magic = head.readUInt32BE(0);
    if ((magic & 0xfffffffe) !== MAGIC || head.readUInt32BE(4) !== FORMAT) return 0;
    const bigEndian = (magic & 1) === 1;
    const pageSize = head.readUInt32BE(8);
    if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return 0;
    let sum = checksum(head.subarray(0, 24), bigEndian, [0, 0]);
    if (sum[0] !== head.readUInt32BE(24) || sum[1] !== head.readUInt32BE(28)) return 0;
    const salt1 = head.readUInt32BE(16), salt2 = head.readUInt32BE(20);
    const frame = Buffer.alloc(FRAME_HEADER + pageSize);
    let committed = 0;
    for (let n = 1, off = HEADER; ; n++, off += frame.length) {
      if (fs.readSync(fd, frame, 0, frame.length, off) < frame.length) break;
      if (frame.readUInt32BE(0) === 0 || frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) break;
      sum = checksum(frame.subarray(0, 8), bigEndian, sum);
      sum = checksum(frame.subarray(FRAME_HEADER), bigEndian, sum);
      if (sum[0] !== frame.readUInt32BE(16) || sum[1] !== frame.readUInt32BE(20)) break;
      if (frame.readUInt32BE(4) !== 0) committed = n;
    }
    return committed;
  } finally {
    fs.closeSync(fd);
  }
}

/** The first 8 bytes of a rollback journal's header (sqlite3 src/pager.c aJournalMagic). */
const JOURNAL_MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);

/**
 * Whether a SQLite rollback journal (`<db>-journal`, https://sqlite.org/fileformat2.html#rollbackjournal)
 * is one SQLite plays back over the main database file: a journal is hot when its first byte is not
 * zero (pager.c hasHotJournal), and the next read-write connection then writes the original pages it
 * holds back into the database (pager_playback, which stops at once unless the header starts with the
 * magic). A journal that is empty (TRUNCATE) or whose header was zeroed (PERSIST) is not. Counted
 * from the magic alone: a pusher's journal with the magic and no valid page is named too (never an
 * image's, as rpm keeps the database in WAL mode and writes no journal).
 */
export function hotJournal(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(JOURNAL_MAGIC.length);
    return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.equals(JOURNAL_MAGIC);
  } finally {
    fs.closeSync(fd);
  }
}
