/**
 * The record checks (osv.ts checkRecord, checkAffected, sanitizeRecord) and the ratings (severity.ts
 * recordSeverity, vendorSeverity) are written as plain loops, because the import's optimizing compiler
 * recompiles them for each new record shape and spreads, callbacks and `for…of` over tuples cost it a
 * multiple. These properties hold each to the implementation it replaced (copied below as it was): the
 * same answer, the same notes and the same repaired record, for generated records of every field type.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { parseSeverity, type Severity } from '../../../src/core/finding.js';
import { checkAffected, checkRecord, type OsvAffected, type OsvRecord, sanitizeRecord } from '../../../src/vulndb/osv.js';
import { recordSeverity, scoreCvss, severityFromScore, type SeverityInfo, vendorSeverity } from '../../../src/vulndb/severity.js';
import { junk, osvRecord } from './osv-arbitraries.js';

// ---- the implementations before the rewrite ----
function old_checkRecord(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') return 'missing "id"';
  if (r.affected !== undefined && !Array.isArray(r.affected)) return `${r.id}: "affected" is not an array`;
  const affected = (r.affected as unknown[] | undefined) ?? [];
  for (let i = 0; i < affected.length; i++) {
    const a = affected[i];
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return `${r.id}: affected[${i}] is not an object`;
  }
  if (r.aliases !== undefined && !(Array.isArray(r.aliases) && r.aliases.every((x) => typeof x === 'string')))
    return `${r.id}: "aliases" is not an array of strings`;
  return null;
}

function old_checkAffected(a: unknown, i: number): string | null {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return `affected[${i}] is not an object`;
  const aff = a as OsvAffected;
  const pkg = aff.package as unknown;
  if (pkg !== undefined && (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg))) return `affected[${i}].package is not an object`;
  for (const k of ['ecosystem', 'name', 'purl'] as const) {
    const v = (pkg as Record<string, unknown> | undefined)?.[k];
    if (v !== undefined && typeof v !== 'string') return `affected[${i}].package.${k} is not a string`;
  }
  if (aff.ranges !== undefined && !Array.isArray(aff.ranges)) return `affected[${i}].ranges is not an array`;
  const ranges = aff.ranges ?? [];
  for (let j = 0; j < ranges.length; j++) {
    const rg = ranges[j];
    if (typeof rg !== 'object' || rg === null || typeof rg.type !== 'string' || !Array.isArray(rg.events))
      return `affected[${i}].ranges[${j}] needs "type" and "events"`;
  }
  if (aff.versions !== undefined && !(Array.isArray(aff.versions) && aff.versions.every((x) => typeof x === 'string')))
    return `affected[${i}].versions is not an array of strings`;
  return null;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function old_cleanSeverityList(v: unknown, where: string, notes: string[]): Array<{ type: string; score: string }> | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    notes.push(`${where} is not an array (ignored)`);
    return undefined;
  }
  const kept = v.filter((s): s is { type: string; score: string } => isPlainObject(s) && typeof s.type === 'string' && typeof s.score === 'string');
  if (kept.length !== v.length) notes.push(`${where}: ${v.length - kept.length} malformed entr${v.length - kept.length === 1 ? 'y' : 'ies'} (ignored)`);
  return kept;
}

function old_sanitizeRecord(rec: OsvRecord): string[] {
  const notes: string[] = [];
  const r = rec as unknown as Record<string, unknown>;
  for (const k of ['published', 'modified', 'withdrawn', 'summary', 'details'] as const) {
    if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') {
      notes.push(`"${k}" is not a string (ignored)`);
      delete r[k];
    }
  }
  for (const k of ['upstream', 'related'] as const) {
    const v = r[k];
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      notes.push(`"${k}" is not an array (ignored)`);
      delete r[k];
    } else if (!v.every((x) => typeof x === 'string')) {
      notes.push(`"${k}" holds non-string ids (those ignored)`);
      r[k] = v.filter((x) => typeof x === 'string');
    }
  }
  const sev = old_cleanSeverityList(r.severity, '"severity"', notes);
  if (sev) rec.severity = sev;
  else delete r.severity;
  if (r.database_specific !== undefined && !isPlainObject(r.database_specific)) {
    notes.push('"database_specific" is not an object (ignored)');
    delete r.database_specific;
  }
  const affected = rec.affected ?? [];
  for (let i = 0; i < affected.length; i++) {
    const a = affected[i];
    if (!isPlainObject(a)) continue;
    const aff = a as Record<string, unknown>;
    const s = old_cleanSeverityList(aff.severity, `affected[${i}].severity`, notes);
    if (s) aff.severity = s;
    else delete aff.severity;
    for (const k of ['ecosystem_specific', 'database_specific'] as const) {
      if (aff[k] !== undefined && !isPlainObject(aff[k])) {
        notes.push(`affected[${i}].${k} is not an object (ignored)`);
        delete aff[k];
      }
    }
  }
  return notes;
}

interface OsvSeverityEntry {
  type?: string;
  score?: string;
}

function oldRecordSeverity(rec: {
  severity?: OsvSeverityEntry[];
  database_specific?: Record<string, unknown>;
  affected?: Array<{ severity?: OsvSeverityEntry[]; ecosystem_specific?: Record<string, unknown>; database_specific?: Record<string, unknown> }>;
}): SeverityInfo {
  let best: SeverityInfo | undefined;
  const vectors = [...(rec.severity ?? []), ...(rec.affected ?? []).flatMap((a) => a.severity ?? [])];
  for (const s of vectors) {
    if (!s?.type?.startsWith('CVSS_') || typeof s.score !== 'string') continue;
    const r = scoreCvss(s.score);
    if (!r) continue;
    if (!best || r.score > (best.cvss?.score ?? -1)) {
      best = { severity: severityFromScore(r.score, r.version), cvss: { score: r.score, vector: s.score, version: r.version }, source: s.type };
    }
  }
  if (best) return best;
  const word = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const dbs = parseSeverity(word(rec.database_specific?.severity));
  if (dbs !== 'unknown') return { severity: dbs, source: 'database_specific.severity' };
  for (const a of rec.affected ?? []) {
    for (const [where, obj] of [['ecosystem_specific', a.ecosystem_specific], ['database_specific', a.database_specific]] as const) {
      const s = parseSeverity(word(obj?.severity));
      if (s !== 'unknown') return { severity: s, source: `affected.${where}.severity` };
    }
  }
  for (const s of vectors) {
    if (s?.type?.startsWith('CVSS_')) continue;
    const w = parseSeverity(s?.score);
    if (w !== 'unknown') return { severity: w, source: `severity.${s.type ?? '?'}` };
  }
  return { severity: 'unknown', source: 'none' };
}


function oldVendorWord(v: unknown): Severity {
  if (typeof v !== 'string') return 'unknown';
  return v.toLowerCase() === 'important' ? 'high' : parseSeverity(v);
}

function oldVendorSeverity(
  rec: {
    severity?: OsvSeverityEntry[];
    database_specific?: Record<string, unknown>;
    affected?: Array<{ severity?: OsvSeverityEntry[]; ecosystem_specific?: Record<string, unknown>; database_specific?: Record<string, unknown> }>;
  },
  isOs: boolean,
): SeverityInfo | undefined {
  if (!isOs) return undefined;
  for (const s of [...(rec.severity ?? []), ...(rec.affected ?? []).flatMap((a) => a.severity ?? [])]) {
    if (!s?.type || s.type.startsWith('CVSS_')) continue;
    const w = oldVendorWord(s.score);
    if (w !== 'unknown') return { severity: w, source: `severity.${s.type}` };
  }
  const dbs = oldVendorWord(rec.database_specific?.severity);
  if (dbs !== 'unknown') return { severity: dbs, source: 'database_specific.severity' };
  for (const a of rec.affected ?? []) {
    for (const [where, obj] of [['ecosystem_specific', a.ecosystem_specific], ['database_specific', a.database_specific]] as const) {
      const w = oldVendorWord(obj?.severity);
      if (w !== 'unknown') return { severity: w, source: `affected.${where}.severity` };
    }
  }
  return undefined;
}
// ---- end of the copies ----

const record = osvRecord;

const outcome = <T>(f: () => T): { ok: T } | { threw: string } => {
  try {
    return { ok: f() };
  } catch (err) {
    return { threw: (err as Error).constructor.name };
  }
};

describe('vulndb record checks and ratings: plain-loop rewrites equal the originals', () => {
  it('checkRecord and checkAffected give the same problems', () => {
    fc.assert(fc.property(fc.oneof({ weight: 8, arbitrary: record }, { weight: 1, arbitrary: junk }), (r) => {
      expect(checkRecord(r)).to.equal(old_checkRecord(r));
      const list = (r as { affected?: unknown } | null)?.affected;
      if (Array.isArray(list)) list.forEach((a, i) => expect(checkAffected(a, i)).to.equal(old_checkAffected(a, i)));
    }), { numRuns: 5000 });
  });

  it('sanitizeRecord gives the same notes and the same repaired record', () => {
    fc.assert(fc.property(record, (r) => {
      if (checkRecord(r) !== null) return;
      const a = structuredClone(r) as unknown as OsvRecord;
      const b = structuredClone(r) as unknown as OsvRecord;
      expect(sanitizeRecord(a)).to.deep.equal(old_sanitizeRecord(b));
      expect(a).to.deep.equal(b);
    }), { numRuns: 5000 });
  });

  it('recordSeverity and vendorSeverity rate every record the import hands them as before', () => {
    fc.assert(fc.property(record, fc.boolean(), (r, isOs) => {
      if (checkRecord(r) !== null) return;
      const rec = r as unknown as OsvRecord;
      sanitizeRecord(rec);
      expect(outcome(() => recordSeverity(rec))).to.deep.equal(outcome(() => oldRecordSeverity(rec)));
      expect(outcome(() => vendorSeverity(rec, isOs))).to.deep.equal(outcome(() => oldVendorSeverity(rec, isOs)));
    }), { numRuns: 5000 });
  });
});
