/**
 * Severity of an OSV record: CVSS v2 / v3.0 / v3.1 / v4.0 vectors scored with ae-cvss-calculator
 * (the highest base score wins), else the record's own rating (`database_specific.severity` as GHSA
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

function scoreUncached(vector: string): { score: number; version: string } | undefined {
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
