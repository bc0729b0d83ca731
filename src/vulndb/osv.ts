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
 * `o[k]` of a parsed JSON object: every read of a field of a parsed record or `affected` entry goes through
 * this one keyed read. Each source writes its own field sets in its own order (the shared test data holds 35
 * record layouts and 8 of `affected`), each a hidden class of its own in V8: a named read (`o.id`) is compiled
 * for the classes it has seen and thrown away at the next source's, while this read sees many names from the
 * first record on and is compiled once, for any class.
 */
function field(o: object, k: string): unknown {
  return (o as Record<string, unknown>)[k];
}

/**
 * The `type` of a parsed range object (checked to be a string by {@link checkAffected}), by the one keyed
 * read {@link field}: sources write range objects in layouts of their own (a GIT range has a `repo`), and
 * a named read in the per-record import would be compiled again for each.
 */
export function rangeType(range: object): string {
  return field(range, 'type') as string;
}

/**
 * Checks the shape of a parsed JSON value as a whole: an object with an `id`, `affected` an array of
 * objects, `aliases` an array of strings. Returns the problem or null when it is a usable record. The
 * inside of each `affected` entry is checked on its own by {@link checkAffected}: a malformed entry is
 * skipped and the record's other entries still import.
 */
export function checkRecord(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const id = field(v, 'id');
  if (typeof id !== 'string' || id === '') return 'missing "id"';
  const affected = field(v, 'affected');
  if (affected !== undefined && !Array.isArray(affected)) return `${id}: "affected" is not an array`;
  if (affected !== undefined) {
    for (let i = 0; i < affected.length; i++) {
      const a = affected[i] as unknown;
      if (typeof a !== 'object' || a === null || Array.isArray(a)) return `${id}: affected[${i}] is not an object`;
    }
  }
  const aliases = field(v, 'aliases');
  if (aliases !== undefined && !(Array.isArray(aliases) && allStrings(aliases)))
    return `${id}: "aliases" is not an array of strings`;
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
  const pkg = field(a, 'package');
  if (pkg !== undefined && (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg))) return `affected[${i}].package is not an object`;
  if (pkg !== undefined) {
    for (let f = 0; f < PACKAGE_STRING_FIELDS.length; f++) {
      const k = PACKAGE_STRING_FIELDS[f];
      const v = field(pkg, k);
      if (v !== undefined && typeof v !== 'string') return `affected[${i}].package.${k} is not a string`;
    }
  }
  const ranges = field(a, 'ranges');
  if (ranges !== undefined && !Array.isArray(ranges)) return `affected[${i}].ranges is not an array`;
  if (ranges !== undefined) {
    for (let j = 0; j < ranges.length; j++) {
      const rg = ranges[j] as unknown;
      if (typeof rg !== 'object' || rg === null || typeof field(rg, 'type') !== 'string' || !Array.isArray(field(rg, 'events')))
        return `affected[${i}].ranges[${j}] needs "type" and "events"`;
    }
  }
  const versions = field(a, 'versions');
  if (versions !== undefined && !(Array.isArray(versions) && allStrings(versions)))
    return `affected[${i}].versions is not an array of strings`;
  return null;
}

const RECORD_STRING_FIELDS = ['published', 'modified', 'withdrawn', 'summary', 'details'] as const;
const RECORD_ID_LISTS = ['upstream', 'related'] as const;
const ENTRY_OBJECT_FIELDS = ['ecosystem_specific', 'database_specific'] as const;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Keeps the well-formed entries of an OSV `severity` list (objects with string `type` and `score`): the
 * list itself when every entry is, else a new list of those.
 */
function cleanSeverityList(v: unknown, where: string, notes: string[]): Array<{ type: string; score: string }> | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) {
    notes.push(`${where} is not an array (ignored)`);
    return undefined;
  }
  let bad = 0;
  for (let i = 0; i < v.length; i++) if (!isSeverityEntry(v[i])) bad++;
  if (bad === 0) return v as Array<{ type: string; score: string }>;
  const kept: Array<{ type: string; score: string }> = [];
  for (let i = 0; i < v.length; i++) if (isSeverityEntry(v[i])) kept.push(v[i] as { type: string; score: string });
  notes.push(`${where}: ${bad} malformed entr${bad === 1 ? 'y' : 'ies'} (ignored)`);
  return kept;
}

const isSeverityEntry = (s: unknown): boolean => isPlainObject(s) && typeof field(s, 'type') === 'string' && typeof field(s, 'score') === 'string';

/**
 * Makes the optional fields of a record that passed {@link checkRecord} safe to read, in place: a field of
 * the wrong JSON type (OSV schema 1.6: `published`, `modified`, `withdrawn` and `summary` strings, `upstream`
 * and `related` arrays of strings, `severity` an array of `{type, score}` strings, `database_specific` and
 * `ecosystem_specific` objects) is dropped or filtered, never allowed to throw in the middle of an import, and
 * each such repair is returned as a note for the update's bad-record report. Why repair rather than refuse: a
 * malformed timestamp or summary changes no match, and refusing the record would lose its affected ranges.
 * The `affected` entries' ranges and versions are left to {@link checkAffected}, which skips an entry alone.
 * A well-formed record is left as it is (nothing written).
 *
 * @returns the repairs made, each `field: problem (ignored)`; empty for a well-formed record.
 */
export function sanitizeRecord(rec: OsvRecord): string[] {
  const notes: string[] = [];
  const r = rec as unknown as Record<string, unknown>;
  for (let f = 0; f < RECORD_STRING_FIELDS.length; f++) {
    const k = RECORD_STRING_FIELDS[f];
    const v = field(r, k);
    if (v !== undefined && v !== null && typeof v !== 'string') {
      notes.push(`"${k}" is not a string (ignored)`);
      delete r[k];
    }
  }
  for (let f = 0; f < RECORD_ID_LISTS.length; f++) {
    const k = RECORD_ID_LISTS[f];
    const v = field(r, k);
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      notes.push(`"${k}" is not an array (ignored)`);
      delete r[k];
    } else if (!allStrings(v)) {
      notes.push(`"${k}" holds non-string ids (those ignored)`);
      r[k] = v.filter((x) => typeof x === 'string');
    }
  }
  cleanSeverityOf(r, '"severity"', notes);
  const dbs = field(r, 'database_specific');
  if (dbs !== undefined && !isPlainObject(dbs)) {
    notes.push('"database_specific" is not an object (ignored)');
    delete r.database_specific;
  }
  const affected = field(r, 'affected') as unknown[] | undefined;
  if (affected === undefined) return notes;
  for (let i = 0; i < affected.length; i++) {
    const a = affected[i];
    if (!isPlainObject(a)) continue;
    cleanSeverityOf(a, `affected[${i}].severity`, notes);
    for (let f = 0; f < ENTRY_OBJECT_FIELDS.length; f++) {
      const k = ENTRY_OBJECT_FIELDS[f];
      const v = field(a, k);
      if (v !== undefined && !isPlainObject(v)) {
        notes.push(`affected[${i}].${k} is not an object (ignored)`);
        delete a[k];
      }
    }
  }
  return notes;
}

/** {@link cleanSeverityList} of `o.severity`, written back (removed when absent or not a list) only when it changed. */
function cleanSeverityOf(o: Record<string, unknown>, where: string, notes: string[]): void {
  const v = field(o, 'severity');
  const kept = cleanSeverityList(v, where, notes);
  // (an own property holding undefined, which no JSON text gives, is removed too, as it always was)
  if (kept === undefined) delete o.severity;
  else if (kept !== v) o.severity = kept;
}

/** An OSV `severity` entry as {@link sanitizeRecord} keeps it. */
export interface OsvSeverity {
  type: string;
  score: string;
}

/**
 * One `affected` entry as the import reads it ({@link readImportRecord}): the same fields whatever the
 * source wrote, always in this order. `ranges` holds the entry's own range objects.
 */
export interface ImportAffected {
  /** The problem {@link checkAffected} found (then the entry is skipped and nothing else was read), or null. */
  malformed: string | null;
  ecosystem: string | undefined;
  name: string | undefined;
  /** The entry's `ranges`; undefined when absent or empty. */
  ranges: OsvRange[] | undefined;
  /** The entry's `versions`; undefined when absent or empty. */
  versions: string[] | undefined;
  /** `ecosystem_specific.urgency` (Debian's changelog urgency), any JSON value. */
  urgency: unknown;
  /** What the ratings read (severity.ts): the entry's `severity` list and the `severity` of its two specific objects. */
  severity: OsvSeverity[] | undefined;
  ecosystem_specific: { severity: unknown } | undefined;
  database_specific: { severity: unknown } | undefined;
}

/**
 * An OSV record as the import reads it ({@link readImportRecord}): what it uses of a record that passed
 * {@link checkRecord} and {@link sanitizeRecord}, with the same values, in one fixed set of fields. An
 * empty list is undefined: a parsed empty array has another hidden class than a parsed list of strings or
 * objects (V8's elements kinds), and absent and empty mean the same to the import.
 */
export interface ImportRecord {
  id: string;
  /** `withdrawn` is set (a non-empty string). */
  withdrawn: boolean;
  published: string | undefined;
  modified: string | undefined;
  summary: string | undefined;
  /** `aliases`, `upstream`: undefined when absent or empty. */
  aliases: string[] | undefined;
  upstream: string[] | undefined;
  /** `severity` (copied as `{type, score}`); undefined when absent or empty. */
  severity: OsvSeverity[] | undefined;
  database_specific: { severity: unknown } | undefined;
  affected: ImportAffected[];
}

/**
 * Reads a parsed JSON value as an OSV record for the import: {@link checkRecord}, then {@link sanitizeRecord}
 * (its notes appended to `notes`), then the values the import uses copied into an {@link ImportRecord}, with
 * each `affected` entry's {@link checkAffected} problem. Returns the problem of an unusable value instead.
 *
 * Why a copy: every source writes its records with its own fields in its own order (the shared test data
 * alone holds 35 record layouts and 8 of `affected`), and V8 gives each layout its own hidden class. Code
 * reading the parsed objects is compiled for the layouts seen so far and thrown away and compiled again
 * when the next source brings new ones; read here once, the import's large per-record code sees only the
 * copy's one layout and is compiled once.
 */
export function readImportRecord(v: unknown, notes: string[]): ImportRecord | string {
  const problem = checkRecord(v);
  if (problem !== null) return problem;
  const rec = v as object;
  const repairs = sanitizeRecord(v as OsvRecord);
  for (let i = 0; i < repairs.length; i++) notes.push(repairs[i]);
  const raw = field(rec, 'affected') as object[] | undefined;
  const affected: ImportAffected[] = [];
  if (raw !== undefined) for (let i = 0; i < raw.length; i++) affected.push(importAffected(raw[i], i));
  return {
    id: field(rec, 'id') as string,
    withdrawn: !!field(rec, 'withdrawn'),
    published: (field(rec, 'published') as string | null | undefined) ?? undefined,
    modified: (field(rec, 'modified') as string | null | undefined) ?? undefined,
    summary: (field(rec, 'summary') as string | null | undefined) ?? undefined,
    aliases: nonEmpty(field(rec, 'aliases') as string[] | undefined),
    upstream: nonEmpty(field(rec, 'upstream') as string[] | undefined),
    severity: copySeverity(field(rec, 'severity') as OsvSeverity[] | undefined),
    database_specific: specificSeverity(field(rec, 'database_specific')),
    affected,
  };
}

/** One `affected` entry of a record that passed {@link checkRecord} and {@link sanitizeRecord}, as {@link ImportAffected}. */
function importAffected(a: object, i: number): ImportAffected {
  const malformed = checkAffected(a, i);
  const ok = malformed === null;
  const pkg = ok ? (field(a, 'package') as object | undefined) : undefined;
  const es = field(a, 'ecosystem_specific');
  return {
    malformed,
    ecosystem: pkg === undefined ? undefined : (field(pkg, 'ecosystem') as string | undefined),
    name: pkg === undefined ? undefined : (field(pkg, 'name') as string | undefined),
    ranges: ok ? nonEmpty(field(a, 'ranges') as OsvRange[] | undefined) : undefined,
    versions: ok ? nonEmpty(field(a, 'versions') as string[] | undefined) : undefined,
    urgency: es === undefined ? undefined : field(es as object, 'urgency'),
    severity: copySeverity(field(a, 'severity') as OsvSeverity[] | undefined),
    ecosystem_specific: specificSeverity(es),
    database_specific: specificSeverity(field(a, 'database_specific')),
  };
}

/** A list, or undefined when it is absent or empty. */
function nonEmpty<T>(list: T[] | undefined): T[] | undefined {
  return list !== undefined && list.length > 0 ? list : undefined;
}

/** A sanitized `severity` list copied as `{type, score}` objects (undefined when absent or empty). */
function copySeverity(list: OsvSeverity[] | undefined): OsvSeverity[] | undefined {
  if (list === undefined || list.length === 0) return undefined;
  const out: OsvSeverity[] = [];
  for (let i = 0; i < list.length; i++) out.push({ type: field(list[i], 'type') as string, score: field(list[i], 'score') as string });
  return out;
}

/** The `severity` of a sanitized `ecosystem_specific`/`database_specific` object (absent: undefined). */
function specificSeverity(o: unknown): { severity: unknown } | undefined {
  return o === undefined ? undefined : { severity: field(o as object, 'severity') };
}
