/**
 * The `sql` texts of a SQLite database's schema table (`sqlite_schema`, the table b-tree rooted at page
 * 1), read from the file without SQLite (https://sqlite.org/fileformat2.html): SQLite loads the
 * statistics tables as it reads the schema, before any statement of the reader runs, so what they
 * cost must be judged first. Each page is read once (a b-tree naming a page twice or in a cycle is
 * refused), so the work is linear in the file's size.
 */
import fs from 'node:fs';

/** Reads a SQLite varint at `p`: [value (up to 2^53), bytes]. */
function varint(b: Buffer, p: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    if (p + i >= b.length) throw new Error('sqlite schema: varint past the page');
    const c = b[p + i]!;
    v = v * 128 + (c & 0x7f);
    if (c < 0x80) return [v, i + 1];
  }
  if (p + 8 >= b.length) throw new Error('sqlite schema: varint past the page');
  return [v * 256 + b[p + 8]!, 9];
}

/**
 * Every text or BLOB value (`type`, `name`, `tbl_name`, `sql`) of the schema table of the SQLite database at `file`, decoded in the
 * database's text encoding.
 * @throws Error when the file is not a SQLite database or its schema b-tree is malformed or names a page twice.
 */
export function sqliteSchemaTexts(file: string): string[] {
  const fd = fs.openSync(file, 'r');
  try {
    return schemaTexts(fd, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
}

function schemaTexts(fd: number, fileSize: number): string[] {
  const b = Buffer.alloc(100);
  if (fs.readSync(fd, b, 0, 100, 0) < 100 || b.toString('latin1', 0, 16) !== 'SQLite format 3\u0000') throw new Error('sqlite schema: not a SQLite 3 database');
  const raw = b.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw new Error('sqlite schema: bad page size');
  const usable = pageSize - b[20]!;
  // SQLite takes the encoding as the field's low two bits (prepare.c: `(u8)meta & 3`, 0 being UTF-8):
  // 6 is UTF-16le to it, and a reader taking it as UTF-8 saw no name in the schema
  const enc = b.readUInt32BE(56) & 3;
  const pages = Math.floor(fileSize / pageSize);
  const seen = new Set<number>();
  const page = (n: number): Buffer => {
    if (n < 1 || n > pages || seen.has(n)) throw new Error(`sqlite schema: page ${n} out of the file or named twice`);
    seen.add(n);
    const pg = Buffer.alloc(pageSize);
    fs.readSync(fd, pg, 0, pageSize, (n - 1) * pageSize);
    return pg;
  };
  const decode = (x: Buffer) => (enc === 2 ? x.toString('utf16le') : enc === 3 ? Buffer.from(x.subarray(0, x.length & ~1)).swap16().toString('utf16le') : x.toString('utf8'));
  const out: string[] = [];
  // Stored records do not overlap, so together they fit in the file; cell pointers naming one cell
  // many times (a 192 KiB file gave 531 million characters) are refused once they hold more.
  let taken = 0;
  const maxLocal = usable - 35;
  const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
  const walk = (n: number, depth: number) => {
    // SQLite refuses b-trees deeper than 20 (BTCURSOR_MAX_DEPTH)
    if (depth > 20) throw new Error('sqlite schema: b-tree deeper than 20 pages');
    const pg = page(n);
    const h = n === 1 ? 100 : 0;
    const type = pg[h];
    const cells = pg.readUInt16BE(h + 3);
    const ptrs = h + (type === 0x05 ? 12 : 8);
    if (ptrs + cells * 2 > usable) throw new Error('sqlite schema: cell pointers past the page');
    for (let i = 0; i < cells; i++) {
      const c = pg.readUInt16BE(ptrs + i * 2);
      if (c >= usable) throw new Error('sqlite schema: cell past the page');
      if (type === 0x05) { walk(pg.readUInt32BE(c), depth + 1); continue; }
      if (type !== 0x0d) throw new Error(`sqlite schema: page ${n} is not a table b-tree page`);
      const [size, l1] = varint(pg, c);
      const [, l2] = varint(pg, c + l1);
      const start = c + l1 + l2;
      taken += size;
      if (taken > fileSize) throw new Error('sqlite schema: records larger than the file (a cell named twice)');
      let local = size;
      if (size > maxLocal) {
        const k = minLocal + ((size - minLocal) % (usable - 4));
        local = k <= maxLocal ? k : minLocal;
      }
      if (start + local + (local < size ? 4 : 0) > usable) throw new Error('sqlite schema: record past the page');
      const parts = [pg.subarray(start, start + local)];
      let got = local;
      for (let next = local < size ? pg.readUInt32BE(start + local) : 0; got < size; ) {
        const o = page(next);
        const take = Math.min(usable - 4, size - got);
        parts.push(o.subarray(4, 4 + take));
        got += take;
        next = o.readUInt32BE(0);
      }
      const rec = Buffer.concat(parts);
      const [hdr, hl] = varint(rec, 0);
      let p = hl, body = hdr;
      while (p < hdr && p < rec.length) {
        const [st, sl] = varint(rec, p);
        p += sl;
        const len = st >= 12 ? Math.floor((st - 12) / 2) : [0, 1, 2, 3, 4, 6, 8, 8, 0, 0, 0, 0][st] ?? 0;
        // a BLOB too: SQLite's schema loader reads each column as text (sqlite3_column_text), so a
        // `sql` or `name` stored as a BLOB is parsed as the statement it spells
        if (st >= 12) out.push(decode(rec.subarray(body, body + len)));
        body += len;
      }
    }
    if (type === 0x05) walk(pg.readUInt32BE(h + 8), depth + 1);
  };
  walk(1, 0);
  return out;
}
