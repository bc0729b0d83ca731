/**
 * FIRST EPSS scores (https://www.first.org/epss/data_stats): the daily CSV
 * (`https://epss.cyentia.com/epss_scores-current.csv.gz`), gzipped or not, whose first line is a comment
 * `#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z` followed by the header `cve,epss,percentile`.
 */
import zlib from 'node:zlib';
import { PushgateError } from '../../core/errors.js';

const CVE_ID = /^CVE-\d{4}-\d+$/;
/**
 * A row in the form FIRST writes it, both numbers plainly within 0..1 (a subset of what the full check
 * accepts), with its line end; sticky, tried at the start of each line.
 */
const EPSS_ROW = /CVE-\d{4}-\d+,(?:0(?:\.\d*)?|\.\d+|1(?:\.0*)?),(?:0(?:\.\d*)?|\.\d+|1(?:\.0*)?)\r?(?:\n|$)/y;

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
  let text: string;
  if (data[0] === 0x1f && data[1] === 0x8b) {
    try {
      text = zlib.gunzipSync(data).toString('utf8');
    } catch (err) {
      throw new PushgateError('VULNDB', `EPSS file ${file}: ${(err as Error).message} (truncated or corrupt gzip? fetch it again)`);
    }
  } else text = data.toString('utf8');
  // lines are taken from the text one at a time (no split: a daily file has ~300,000 rows)
  let pos = 0;
  let lineNo = 0;
  const nextLine = (): string | undefined => {
    if (pos > text.length) return undefined;
    let e = text.indexOf('\n', pos);
    if (e < 0) e = text.length;
    const l = text.slice(pos, e);
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
  while (pos <= text.length) {
    // the common row, checked in place: nearly every row of a daily file is for a CVE no advisory names
    if (wanted) {
      EPSS_ROW.lastIndex = pos;
      if (EPSS_ROW.test(text) && !wanted.has(text.slice(pos, text.indexOf(',', pos)))) {
        out.rows++;
        lineNo++;
        pos = EPSS_ROW.lastIndex;
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
