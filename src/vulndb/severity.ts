/**
 * Severity of an OSV record: CVSS v2 / v3.0 / v3.1 / v4.0 vectors scored with ae-cvss-calculator
 * (a v3.x vector of the base metrics alone by the specification's formulas here, with the same result;
 * the highest base score wins), else the record's own rating (`database_specific.severity` as GHSA
 * writes it, or an affected entry's `ecosystem_specific`/`database_specific` `severity`, or a
 * non-CVSS `severity[]` entry such as Ubuntu's), else `unknown`. Debian's changelog `urgency` is an
 * upload urgency, never a severity: it is carried separately.
 */
import { createRequire } from 'node:module';
import { parseSeverity, severityRank, type Severity } from '../core/finding.js';

interface CvssCtor {
  new (vector: string): { calculateScores(): { base?: number; overall?: number }; calculateOverallScore?(): number };
}
// Loaded by the first vector scored (a database import), not with this module: matching reads
// scores stored at import and never loads the calculator. The package is CommonJS.
const requireCjs = createRequire(import.meta.url);
let cvssLibLoaded: Record<string, CvssCtor> | undefined;
function cvssLib(): Record<string, CvssCtor> {
  cvssLibLoaded ??= requireCjs('ae-cvss-calculator') as Record<string, CvssCtor>;
  return cvssLibLoaded;
}

/** A record's severity and where it came from. */
export interface SeverityInfo {
  severity: Severity;
  cvss?: { score: number; vector: string; version: string };
  /** `CVSS_V3`, `database_specific.severity`, … */
  source: string;
}

/** Maps a CVSS base score to a severity word (v3/v4 bands; v2 has no critical band). */
export function severityFromScore(score: number, version: string): Severity {
  if (version.startsWith('2')) return score >= 7 ? 'high' : score >= 4 ? 'medium' : 'low';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'negligible';
}

const scoreCache = new Map<string, { score: number; version: string } | undefined>();

/** Scores one CVSS vector; undefined when the vector cannot be parsed. Results are memoized per vector. */
export function scoreCvss(vector: string): { score: number; version: string } | undefined {
  if (scoreCache.has(vector)) return scoreCache.get(vector);
  const r = scoreUncached(vector);
  if (scoreCache.size < 100_000) scoreCache.set(vector, r);
  return r;
}

/**
 * A CVSS 3.0/3.1 vector of the eight base metrics alone, in the specification's order (nearly every
 * advisory's): scored here ({@link cvss3Base}); any other spelling goes to the library.
 */
const CVSS3_BASE_ONLY = /^CVSS:3\.([01])\/AV:([NALP])\/AC:([LH])\/PR:([NLH])\/UI:([NR])\/S:([UC])\/C:([HLN])\/I:([HLN])\/A:([HLN])$/;

// CVSS v3.1 specification (https://www.first.org/cvss/v3.1/specification-document), section 7.4 (the same
// weights in v3.0, section 8.4): metric values' weights
const AV_W: Record<string, number> = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 };
const AC_W: Record<string, number> = { L: 0.77, H: 0.44 };
const PR_UNCHANGED_W: Record<string, number> = { N: 0.85, L: 0.62, H: 0.27 };
const PR_CHANGED_W: Record<string, number> = { N: 0.85, L: 0.68, H: 0.5 };
const UI_W: Record<string, number> = { N: 0.85, R: 0.62 };
const CIA_W: Record<string, number> = { H: 0.56, L: 0.22, N: 0 };

/**
 * The v3.1 Roundup (specification appendix A): the smallest number of one decimal place equal to or above
 * `x`, computed on integers so that a float just above a tenth (4.000000000000001) is not carried up.
 * Used for v3.0 vectors too (whose specification rounds up with a plain ceiling): for every v3.0 base
 * vector it gives the score ae-cvss-calculator gives, which is what the index has always stored.
 */
function roundUp(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

/**
 * The base score of a CVSS 3.x vector of the base metrics alone (specification section 7.1), or undefined
 * when `vector` is not one ({@link CVSS3_BASE_ONLY}).
 */
export function cvss3Base(vector: string): { score: number; version: string } | undefined {
  const m = CVSS3_BASE_ONLY.exec(vector);
  if (m === null) return undefined;
  const changed = m[6] === 'C';
  const iss = 1 - (1 - CIA_W[m[7]]) * (1 - CIA_W[m[8]]) * (1 - CIA_W[m[9]]);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * AV_W[m[2]] * AC_W[m[3]] * (changed ? PR_CHANGED_W : PR_UNCHANGED_W)[m[4]] * UI_W[m[5]];
  const score = impact <= 0 ? 0 : changed ? roundUp(Math.min(1.08 * (impact + exploitability), 10)) : roundUp(Math.min(impact + exploitability, 10));
  return { score, version: m[1] === '1' ? '3.1' : '3.0' };
}

function scoreUncached(vector: string): { score: number; version: string } | undefined {
  // the common vector without loading the library (and without its generic vector model)
  const base3 = cvss3Base(vector);
  if (base3 !== undefined) return base3;
  try {
    let ctor: CvssCtor;
    let version: string;
    const lib = cvssLib();
    if (vector.startsWith('CVSS:4.0/')) [ctor, version] = [lib.Cvss4P0, '4.0'];
    else if (vector.startsWith('CVSS:3.1/')) [ctor, version] = [lib.Cvss3P1, '3.1'];
    else if (vector.startsWith('CVSS:3.0/')) [ctor, version] = [lib.Cvss3P0, '3.0'];
    else if (/^\(?AV:[LAN]\//.test(vector)) [ctor, version] = [lib.Cvss2, '2.0'];
    else return undefined;
    const v = new ctor(vector.replace(/^\(|\)$/g, ''));
    // CVSS 4.0: the library's `base` score is its overall score (every metric the vector sets applies).
    // `calculateScores()` adds the vector's text twice and, for a vector with threat or environmental
    // metrics, up to three more scorings (without them), which nothing here reads.
    let score: number | undefined;
    if (version === '4.0') score = v.calculateOverallScore!();
    else {
      const s = v.calculateScores();
      score = s.base ?? s.overall;
    }
    return typeof score === 'number' && Number.isFinite(score) ? { score, version } : undefined;
  } catch {
    return undefined;
  }
}

interface OsvSeverityEntry {
  type?: string;
  score?: string;
}

/** The parts of an OSV record the ratings read (osv.ts OsvRecord). */
interface RatedRecord {
  severity?: OsvSeverityEntry[];
  database_specific?: Record<string, unknown>;
  affected?: Array<{ severity?: OsvSeverityEntry[]; ecosystem_specific?: Record<string, unknown>; database_specific?: Record<string, unknown> }>;
}

/**
 * The record's `severity` entries, then those of each affected entry, in order (what
 * `[...rec.severity, ...rec.affected.flatMap((a) => a.severity ?? [])]` lists). Written as plain loops:
 * the import calls the ratings once per record, and the optimizing compiler, which compiles them again
 * whenever records of a new shape arrive (a new source), spends a multiple of the time on spreads,
 * `flatMap` callbacks and `for…of` over tuples.
 */
function severityEntries(rec: RatedRecord): OsvSeverityEntry[] {
  const out: OsvSeverityEntry[] = [];
  const top = rec.severity;
  if (top) for (let i = 0; i < top.length; i++) out.push(top[i]);
  const affected = rec.affected;
  if (affected) {
    for (let i = 0; i < affected.length; i++) {
      const list = affected[i].severity;
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) out.push(list);
      else for (let j = 0; j < list.length; j++) out.push(list[j] as OsvSeverityEntry);
    }
  }
  return out;
}

const stringOr = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Severity of one OSV record (see file comment for the order of preference). `rec` as the import hands
 * it over, after osv.ts checkRecord and sanitizeRecord: `severity` lists and `affected` arrays (or absent).
 */
export function recordSeverity(rec: RatedRecord): SeverityInfo {
  const r = recordRating(rec);
  return r.cvss ? r : { severity: r.severity, source: r.source };
}

/**
 * {@link recordSeverity} with `cvss` always present (undefined when the rating has no vector), so every
 * rating is one object shape: the import reads tens of thousands of them in code compiled for the shapes
 * seen first. `JSON.stringify` writes both the same (it leaves an undefined property out).
 */
export function recordRating(rec: RatedRecord): SeverityInfo & { cvss: SeverityInfo['cvss'] } {
  let best: (SeverityInfo & { cvss: SeverityInfo['cvss'] }) | undefined;
  const vectors = severityEntries(rec);
  for (let i = 0; i < vectors.length; i++) {
    const s = vectors[i];
    if (!s?.type?.startsWith('CVSS_') || typeof s.score !== 'string') continue;
    const r = scoreCvss(s.score);
    if (!r) continue;
    if (!best || r.score > (best.cvss?.score ?? -1)) {
      best = { severity: severityFromScore(r.score, r.version), cvss: { score: r.score, vector: s.score, version: r.version }, source: s.type };
    }
  }
  if (best) return best;
  const dbs = parseSeverity(stringOr(rec.database_specific?.severity));
  if (dbs !== 'unknown') return { severity: dbs, cvss: undefined, source: 'database_specific.severity' };
  const affected = rec.affected;
  if (affected) {
    for (let i = 0; i < affected.length; i++) {
      const a = affected[i];
      const eco = parseSeverity(stringOr(a.ecosystem_specific?.severity));
      if (eco !== 'unknown') return { severity: eco, cvss: undefined, source: 'affected.ecosystem_specific.severity' };
      const db = parseSeverity(stringOr(a.database_specific?.severity));
      if (db !== 'unknown') return { severity: db, cvss: undefined, source: 'affected.database_specific.severity' };
    }
  }
  for (let i = 0; i < vectors.length; i++) {
    const s = vectors[i];
    if (s?.type?.startsWith('CVSS_')) continue;
    const w = parseSeverity(s?.score);
    if (w !== 'unknown') return { severity: w, cvss: undefined, source: `severity.${s.type ?? '?'}` };
  }
  return { severity: 'unknown', cvss: undefined, source: 'none' };
}

/** True when `a` is a higher rating than `b`: the severity word first, then the CVSS score. */
export function isHigherSeverity(a: SeverityInfo, b: SeverityInfo | undefined): boolean {
  if (!b) return true;
  const ra = severityRank(a.severity);
  const rb = severityRank(b.severity);
  return ra > rb || (ra === rb && (a.cvss?.score ?? -1) > (b.cvss?.score ?? -1));
}

/** Red Hat's impact words (Low, Moderate, Important, Critical) and the usual words → severity. */
function vendorWord(v: unknown): Severity {
  if (typeof v !== 'string') return 'unknown';
  return v.toLowerCase() === 'important' ? 'high' : parseSeverity(v);
}

/**
 * The OS vendor's own rating word carried by an OS advisory record, or undefined: a non-CVSS `severity[]`
 * entry (Ubuntu's priority, `type: "Ubuntu"`), else `database_specific.severity` or an affected entry's
 * `ecosystem_specific`/`database_specific` `severity` (Red Hat impact, SUSE rating). Debian's records carry
 * none (a changelog `urgency` is the upload's urgency, not the security tracker's, and is never used here).
 * @param isOs true when the record's affected entries are of an OS ecosystem; otherwise there is no vendor rating.
 */
export function vendorSeverity(rec: RatedRecord, isOs: boolean): SeverityInfo | undefined {
  if (!isOs) return undefined;
  const vectors = severityEntries(rec);
  for (let i = 0; i < vectors.length; i++) {
    const s = vectors[i];
    if (!s?.type || s.type.startsWith('CVSS_')) continue;
    const w = vendorWord(s.score);
    if (w !== 'unknown') return { severity: w, source: `severity.${s.type}` };
  }
  const dbs = vendorWord(rec.database_specific?.severity);
  if (dbs !== 'unknown') return { severity: dbs, source: 'database_specific.severity' };
  const affected = rec.affected;
  if (affected) {
    for (let i = 0; i < affected.length; i++) {
      const a = affected[i];
      const eco = vendorWord(a.ecosystem_specific?.severity);
      if (eco !== 'unknown') return { severity: eco, source: 'affected.ecosystem_specific.severity' };
      const db = vendorWord(a.database_specific?.severity);
      if (db !== 'unknown') return { severity: db, source: 'affected.database_specific.severity' };
    }
  }
  return undefined;
}
