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

/** Checks the shape of a parsed JSON value; returns the problem or null when it is a usable record. */
export function checkRecord(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const r = v as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') return 'missing "id"';
  if (r.affected !== undefined && !Array.isArray(r.affected)) return `${r.id}: "affected" is not an array`;
  for (const [i, a] of ((r.affected as unknown[]) ?? []).entries()) {
    if (typeof a !== 'object' || a === null) return `${r.id}: affected[${i}] is not an object`;
    const aff = a as OsvAffected;
    if (aff.ranges !== undefined && !Array.isArray(aff.ranges)) return `${r.id}: affected[${i}].ranges is not an array`;
    for (const [j, rg] of (aff.ranges ?? []).entries()) {
      if (typeof rg !== 'object' || rg === null || typeof rg.type !== 'string' || !Array.isArray(rg.events))
        return `${r.id}: affected[${i}].ranges[${j}] needs "type" and "events"`;
    }
    if (aff.versions !== undefined && !(Array.isArray(aff.versions) && aff.versions.every((x) => typeof x === 'string')))
      return `${r.id}: affected[${i}].versions is not an array of strings`;
  }
  if (r.aliases !== undefined && !(Array.isArray(r.aliases) && r.aliases.every((x) => typeof x === 'string')))
    return `${r.id}: "aliases" is not an array of strings`;
  return null;
}
