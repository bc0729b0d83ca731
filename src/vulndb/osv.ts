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
  for (const [i, a] of ((r.affected as unknown[]) ?? []).entries()) {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return `${r.id}: affected[${i}] is not an object`;
  }
  if (r.aliases !== undefined && !(Array.isArray(r.aliases) && r.aliases.every((x) => typeof x === 'string')))
    return `${r.id}: "aliases" is not an array of strings`;
  return null;
}

/**
 * Checks one `affected` entry (schema: `ranges` an array of `{type, events[]}`, `versions` an array of
 * strings); returns the problem (without the record id) or null. Published feeds carry such entries
 * beside well-formed ones: the Photon OS converter (github.com/captn3m0/photon-os-advisories) writes each
 * package twice, once with `ranges` as a bare object and once as the schema's array.
 */
export function checkAffected(a: unknown, i: number): string | null {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return `affected[${i}] is not an object`;
  const aff = a as OsvAffected;
  if (aff.ranges !== undefined && !Array.isArray(aff.ranges)) return `affected[${i}].ranges is not an array`;
  for (const [j, rg] of (aff.ranges ?? []).entries()) {
    if (typeof rg !== 'object' || rg === null || typeof rg.type !== 'string' || !Array.isArray(rg.events))
      return `affected[${i}].ranges[${j}] needs "type" and "events"`;
  }
  if (aff.versions !== undefined && !(Array.isArray(aff.versions) && aff.versions.every((x) => typeof x === 'string')))
    return `affected[${i}].versions is not an array of strings`;
  return null;
}
