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
      const end = skippableRow(buf, pos, keys);
      if (end >= 0) {
        out.rows++;
        lineNo++;
        pos = end;
        continue;
      }
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

/** Longest CVE sequence number {@link cveKey} takes (its key stays below 2^53). */
const MAX_SEQ_DIGITS = 11;

/** `CVE-YYYY-N` → one number (N·10⁴ + YYYY); `CVE-2021-0001` and `CVE-2021-1` share one (a key match is checked on the text). */
const cveKey = (year: number, seq: number): number => seq * 10_000 + year;

/** The keys of the ids of `wanted` in the form {@link skippableRow} reads; other ids can never equal such a row's id. */
function cveKeys(wanted: ReadonlySet<string>): Set<number> {
  const out = new Set<number>();
  const re = new RegExp(`^CVE-(\\d{4})-(\\d{1,${MAX_SEQ_DIGITS}})$`);
  for (const id of wanted) {
    const m = re.exec(id);
    if (m) out.add(cveKey(Number(m[1]), Number(m[2])));
  }
  return out;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 0x30 && c <= 0x39;

/**
 * End of a number `0`, `0.ddd`, `.ddd`, `1`, `1.000` (plainly within 0..1, as FIRST writes it) at `i`, or -1.
 * A subset of what the full row check accepts.
 */
function unitNumber(b: Buffer, i: number): number {
  const c = b[i];
  if (c === 0x30) {
    i++;
    if (b[i] === 0x2e) for (i++; isDigit(b[i]); ) i++;
    return i;
  }
  if (c === 0x2e) {
    if (!isDigit(b[i + 1])) return -1;
    for (i += 2; isDigit(b[i]); ) i++;
    return i;
  }
  if (c === 0x31) {
    i++;
    if (b[i] === 0x2e) for (i++; b[i] === 0x30; ) i++;
    return i;
  }
  return -1;
}

/**
 * When the line at `pos` is a row `CVE-YYYY-N,<0..1>,<0..1>` (a subset of the rows the full check accepts)
 * whose id's key is not in `keys` (so no wanted id), the position after its line end; else -1 (the row
 * is then read as text and checked in full). Reads bytes only: no string is made for the row.
 */
function skippableRow(b: Buffer, pos: number, keys: ReadonlySet<number>): number {
  // "CVE-"
  if (b[pos] !== 0x43 || b[pos + 1] !== 0x56 || b[pos + 2] !== 0x45 || b[pos + 3] !== 0x2d) return -1;
  let i = pos + 4;
  let year = 0;
  for (const end = i + 4; i < end; i++) {
    const c = b[i];
    if (!isDigit(c)) return -1;
    year = year * 10 + (c! - 0x30);
  }
  if (b[i++] !== 0x2d) return -1;
  const seqStart = i;
  let seq = 0;
  for (; isDigit(b[i]); i++) seq = seq * 10 + (b[i]! - 0x30);
  if (i === seqStart || i - seqStart > MAX_SEQ_DIGITS || b[i++] !== 0x2c) return -1;
  i = unitNumber(b, i);
  if (i < 0 || b[i++] !== 0x2c) return -1;
  i = unitNumber(b, i);
  if (i < 0) return -1;
  if (b[i] === 0x0d) i++;
  if (i === b.length) {
    if (keys.has(cveKey(year, seq))) return -1;
    return i;
  }
  if (b[i] !== 0x0a || keys.has(cveKey(year, seq))) return -1;
  return i + 1;
}
