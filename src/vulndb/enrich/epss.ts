/**
 * FIRST EPSS scores (https://www.first.org/epss/data_stats): the daily CSV
 * (`https://epss.cyentia.com/epss_scores-current.csv.gz`), gzipped or not, whose first line is a comment
 * `#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z` followed by the header `cve,epss,percentile`.
 */
import zlib from 'node:zlib';
import { PushgateError } from '../../core/errors.js';

const CVE_ID = /^CVE-\d{4}-\d+$/;

/** The EPSS data of one CVE: probability of exploitation in the next 30 days and its percentile, both 0–1. */
export interface EpssInfo {
  score: number;
  percentile: number;
}

/** A parsed EPSS file. */
export interface EpssData {
  modelVersion?: string;
  /** RFC 3339, from the comment line. */
  scoreDate?: string;
  /** Rows read (every row is checked, whether kept or not). */
  rows: number;
  /** The scores kept: every row's, or only those of `wanted` CVEs. */
  scores: Map<string, EpssInfo>;
}

/**
 * Parses an EPSS CSV (gunzipped first when it starts with the gzip magic bytes). With `wanted`, only the
 * scores of those CVE ids are kept (a daily file scores every CVE; an index needs those its advisories name).
 * @throws PushgateError VULNDB naming `file` and the line when the gzip stream is truncated, the header is
 *   not `cve,epss,percentile`, or a row is not `CVE-…,<0..1>,<0..1>`.
 */
export function parseEpss(file: string, data: Buffer, wanted?: ReadonlySet<string>): EpssData {
  let buf: Buffer;
  if (data[0] === 0x1f && data[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(data);
    } catch (err) {
      throw new PushgateError('VULNDB', `EPSS file ${file}: ${(err as Error).message} (truncated or corrupt gzip? fetch it again)`);
    }
  } else buf = data;
  // Read from the bytes, lines decoded only where a line is needed as text (no decode of the whole file,
  // no split: a daily file has ~300,000 rows). A '\n' byte is a line end in UTF-8 and nothing else.
  const len = buf.length;
  let pos = 0;
  let lineNo = 0;
  const nextLine = (): string | undefined => {
    if (pos > len) return undefined;
    let e = buf.indexOf(0x0a, pos);
    if (e < 0) e = len;
    const l = buf.toString('utf8', pos, e);
    pos = e + 1;
    lineNo++;
    return l;
  };
  const out: EpssData = { rows: 0, scores: new Map() };
  let head = nextLine();
  for (; head !== undefined && head.startsWith('#'); head = nextLine()) {
    for (const part of head.slice(1).split(',')) {
      const at = part.indexOf(':');
      const k = part.slice(0, at).trim();
      const val = part.slice(at + 1).trim();
      if (k === 'model_version') out.modelVersion = val;
      else if (k === 'score_date') out.scoreDate = val;
    }
  }
  if ((head ?? '').trim().toLowerCase() !== 'cve,epss,percentile')
    throw new PushgateError('VULNDB', `EPSS file ${file}: line ${head === undefined ? lineNo + 1 : lineNo}: expected the header "cve,epss,percentile", got ${JSON.stringify((head ?? '').slice(0, 60))}`);
  const keys = wanted ? cveKeys(wanted) : undefined;
  while (pos <= len) {
    // the common row, checked in place: nearly every row of a daily file is for a CVE no advisory names
    if (keys) {
      pos = skipRows(buf, pos, keys, wanted!, out.scores);
      out.rows += skippedRows;
      lineNo += skippedRows;
      // at the end: what is left is an empty last line (after the final line end), which is no row
      if (pos >= len) break;
    }
    let line = nextLine() as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') continue;
    const c1 = line.indexOf(',');
    const c2 = c1 < 0 ? -1 : line.indexOf(',', c1 + 1);
    const cve = line.slice(0, c1);
    const score = c2 > c1 + 1 ? Number(line.slice(c1 + 1, c2)) : NaN;
    const percentile = c2 > 0 && c2 < line.length - 1 ? Number(line.slice(c2 + 1)) : NaN;
    if (c2 < 0 || line.indexOf(',', c2 + 1) >= 0 || !cve.startsWith('CVE-') || !CVE_ID.test(cve) || !(score >= 0 && score <= 1) || !(percentile >= 0 && percentile <= 1))
      throw new PushgateError('VULNDB', `EPSS file ${file}: line ${lineNo}: expected "CVE-YYYY-N,<score 0..1>,<percentile 0..1>", got ${JSON.stringify(line.slice(0, 80))}`);
    out.rows++;
    if (!wanted || wanted.has(cve)) out.scores.set(cve, { score, percentile });
  }
  if (!out.rows) throw new PushgateError('VULNDB', `EPSS file ${file}: no scores (empty or truncated file)`);
  return out;
}

/** Longest CVE sequence number {@link skipRows} reads as a number (it stays below 2^53). */
const MAX_SEQ_DIGITS = 11;

/**
 * `CVE-YYYY-N` → one small integer (a V8 small integer: no heap number per row of a daily file, whose ids
 * run past 10⁵ a year): N·64 plus the year's low 6 bits, below 2^30. Ids may share a key
 * (`CVE-2021-0001` and `CVE-2021-1`, ids 64 years or 2^24 sequence numbers apart): a key match only
 * sends the row to the full check, which compares the id's text.
 */
const cveKey = (year: number, seq: number): number => (seq % 0x1000000) * 64 + (year & 63);

/** The keys of the ids of `wanted` in the form {@link skipRows} reads; other ids can never equal such a row's id. */
function cveKeys(wanted: ReadonlySet<string>): Set<number> {
  const out = new Set<number>();
  const re = new RegExp(`^CVE-(\\d{4})-(\\d{1,${MAX_SEQ_DIGITS}})$`);
  for (const id of wanted) {
    const m = re.exec(id);
    if (m) out.add(cveKey(Number(m[1]), Number(m[2])));
  }
  return out;
}

/**
 * Reads the rows from `pos` on while each is a row `CVE-YYYY-N,<0..1>,<0..1>` (a subset of the rows the full
 * check accepts: each number `0`, `0.ddd`, `.ddd`, `1` or `1.000`, plainly within 0..1, as FIRST writes it),
 * adding to `scores` the score of each whose id is in `wanted` (only rows whose id's key is in `keys` are
 * looked at as text). Returns the position of the first row that is not such a row (read as text and
 * checked in full by the caller), or the buffer's length, and sets {@link skippedRows} to the number of
 * rows read. Reads bytes only, but for a row whose key is in `keys`. One loop over every row rather than a
 * call per row: the loop is compiled by the optimizing compiler while it runs (on-stack replacement), well
 * before a function called once per row would be.
 */
function skipRows(b: Buffer, pos: number, keys: ReadonlySet<number>, wanted: ReadonlySet<string>, scores: Map<string, EpssInfo>): number {
  const len = b.length;
  let n = 0;
  // a byte at or past the end reads as undefined, and every comparison with it is false
  rows: while (pos < len) {
    let i = pos;
    if (b[i] !== 0x43 || b[i + 1] !== 0x56 || b[i + 2] !== 0x45 || b[i + 3] !== 0x2d) break; // "CVE-"
    i += 4;
    let year = 0;
    for (const end = i + 4; i < end; i++) {
      const c = b[i];
      if (!(c >= 0x30 && c <= 0x39)) break rows;
      year = year * 10 + (c - 0x30);
    }
    if (b[i++] !== 0x2d) break;
    const seqStart = i;
    let seq = 0;
    for (let c = b[i]; c >= 0x30 && c <= 0x39; c = b[++i]) seq = seq * 10 + (c - 0x30);
    if (i === seqStart || i - seqStart > MAX_SEQ_DIGITS || b[i++] !== 0x2c) break;
    const idEnd = i - 1;
    // the score, then the percentile
    let scoreEnd = 0;
    for (let field = 0; field < 2; field++) {
      const c = b[i];
      if (c === 0x30) {
        i++;
        if (b[i] === 0x2e) for (let d = b[++i]; d >= 0x30 && d <= 0x39; d = b[++i]);
      } else if (c === 0x2e) {
        let d = b[++i];
        if (!(d >= 0x30 && d <= 0x39)) break rows;
        for (d = b[++i]; d >= 0x30 && d <= 0x39; d = b[++i]);
      } else if (c === 0x31) {
        i++;
        if (b[i] === 0x2e) for (i++; b[i] === 0x30; ) i++;
      } else break rows;
      if (field === 0) {
        scoreEnd = i;
        if (b[i++] !== 0x2c) break rows;
      }
    }
    const fieldsEnd = i;
    if (b[i] === 0x0d) i++;
    if (i !== len && b[i] !== 0x0a) break;
    if (keys.has(cveKey(year, seq))) {
      // ASCII only, as checked above
      const cve = b.toString('latin1', pos, idEnd);
      if (wanted.has(cve)) scores.set(cve, { score: Number(b.toString('latin1', idEnd + 1, scoreEnd)), percentile: Number(b.toString('latin1', scoreEnd + 1, fieldsEnd)) });
    }
    n++;
    pos = i === len ? i : i + 1;
  }
  skippedRows = n;
  return pos;
}

/** Rows skipped by the last {@link skipRows} call (its second result). */
let skippedRows = 0;
