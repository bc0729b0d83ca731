/**
 * OSV record shapes (schema 1.6, https://ossf.github.io/osv-schema/) and the checks applied on import.
 */
import type { OsvRange } from './ranges.js';

/** The parts of an OSV record pushgate reads. */
export interface OsvRecord {
  schema_version?: string;
  id: string;
  modified?: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  upstream?: string[];
  related?: string[];
  summary?: string;
  details?: string;
  severity?: Array<{ type?: string; score?: string }>;
  affected?: OsvAffected[];
  database_specific?: Record<string, unknown>;
}

/** One `affected` entry. */
export interface OsvAffected {
  package?: { ecosystem?: string; name?: string; purl?: string };
  severity?: Array<{ type?: string; score?: string }>;
  ranges?: OsvRange[];
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

/**
 * Checks the shape of a parsed JSON value as a whole: an object with an `id`, `affected` an array of
 * objects, `aliases` an array of strings. Returns the problem or null when it is a usable record. The
 * inside of each `affected` entry is checked on its own by {@link checkAffected}: a malformed entry is
 * skipped and the record's other entries still import.
 */
export function checkRecord(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') return 'missing "id"';
  if (r.affected !== undefined && !Array.isArray(r.affected)) return `${r.id}: "affected" is not an array`;
  const affected = (r.affected as unknown[] | undefined) ?? [];
  for (let i = 0; i < affected.length; i++) {
    const a = affected[i];
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return `${r.id}: affected[${i}] is not an object`;
  }
  if (r.aliases !== undefined && !(Array.isArray(r.aliases) && allStrings(r.aliases as unknown[])))
    return `${r.id}: "aliases" is not an array of strings`;
  return null;
}

// Written as plain loops (and constant key lists) rather than `every`, `filter` and `for…of` over array
// literals: the import runs these once per record, and the optimizing compiler compiles them again each
// time records of a new shape arrive (each source has its own), at a multiple of the cost for those forms.

/** True when every element is a string (`a.every((x) => typeof x === 'string')`). */
function allStrings(a: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') return false;
  return true;
}

const PACKAGE_STRING_FIELDS = ['ecosystem', 'name', 'purl'] as const;

/**
 * Checks one `affected` entry (schema: `ranges` an array of `{type, events[]}`, `versions` an array of
 * strings); returns the problem (without the record id) or null. Published feeds carry such entries
 * beside well-formed ones: the Photon OS converter (github.com/captn3m0/photon-os-advisories) writes each
 * package twice, once with `ranges` as a bare object and once as the schema's array.
 */
export function checkAffected(a: unknown, i: number): string | null {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return `affected[${i}] is not an object`;
  const aff = a as OsvAffected;
  const pkg = aff.package as unknown;
  if (pkg !== undefined && (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg))) return `affected[${i}].package is not an object`;
  for (let f = 0; f < PACKAGE_STRING_FIELDS.length; f++) {
    const k = PACKAGE_STRING_FIELDS[f];
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
  if (aff.versions !== undefined && !(Array.isArray(aff.versions) && allStrings(aff.versions)))
    return `affected[${i}].versions is not an array of strings`;
  return null;
}

const RECORD_STRING_FIELDS = ['published', 'modified', 'withdrawn', 'summary', 'details'] as const;
const RECORD_ID_LISTS = ['upstream', 'related'] as const;
const ENTRY_OBJECT_FIELDS = ['ecosystem_specific', 'database_specific'] as const;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keeps the well-formed entries of an OSV `severity` list (objects with string `type` and `score`). */
function cleanSeverityList(v: unknown, where: string, notes: string[]): Array<{ type: string; score: string }> | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    notes.push(`${where} is not an array (ignored)`);
    return undefined;
  }
  const kept: Array<{ type: string; score: string }> = [];
  for (let i = 0; i < v.length; i++) {
    const s = v[i] as unknown;
    if (isPlainObject(s) && typeof s.type === 'string' && typeof s.score === 'string') kept.push(s as { type: string; score: string });
  }
  if (kept.length !== v.length) notes.push(`${where}: ${v.length - kept.length} malformed entr${v.length - kept.length === 1 ? 'y' : 'ies'} (ignored)`);
  return kept;
}

/**
 * Makes the optional fields of a record that passed {@link checkRecord} safe to read, in place: a field of
 * the wrong JSON type (OSV schema 1.6: `published`, `modified`, `withdrawn` and `summary` strings, `upstream`
 * and `related` arrays of strings, `severity` an array of `{type, score}` strings, `database_specific` and
 * `ecosystem_specific` objects) is dropped or filtered, never allowed to throw in the middle of an import, and
 * each such repair is returned as a note for the update's bad-record report. Why repair rather than refuse: a
 * malformed timestamp or summary changes no match, and refusing the record would lose its affected ranges.
 * The `affected` entries' ranges and versions are left to {@link checkAffected}, which skips an entry alone.
 *
 * @returns the repairs made, each `field: problem (ignored)`; empty for a well-formed record.
 */
export function sanitizeRecord(rec: OsvRecord): string[] {
  const notes: string[] = [];
  const r = rec as unknown as Record<string, unknown>;
  for (let f = 0; f < RECORD_STRING_FIELDS.length; f++) {
    const k = RECORD_STRING_FIELDS[f];
    if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') {
      notes.push(`"${k}" is not a string (ignored)`);
      delete r[k];
    }
  }
  for (let f = 0; f < RECORD_ID_LISTS.length; f++) {
    const k = RECORD_ID_LISTS[f];
    const v = r[k];
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      notes.push(`"${k}" is not an array (ignored)`);
      delete r[k];
    } else if (!allStrings(v)) {
      notes.push(`"${k}" holds non-string ids (those ignored)`);
      r[k] = v.filter((x) => typeof x === 'string');
    }
  }
  const sev = cleanSeverityList(r.severity, '"severity"', notes);
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
    const s = cleanSeverityList(aff.severity, `affected[${i}].severity`, notes);
    if (s) aff.severity = s;
    else delete aff.severity;
    for (let f = 0; f < ENTRY_OBJECT_FIELDS.length; f++) {
      const k = ENTRY_OBJECT_FIELDS[f];
      if (aff[k] !== undefined && !isPlainObject(aff[k])) {
        notes.push(`affected[${i}].${k} is not an object (ignored)`);
        delete aff[k];
      }
    }
  }
  return notes;
}
