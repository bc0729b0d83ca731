/**
 * Vulnerability findings: an advisory matched to an installed package.
 */
import type { Digest } from './digest.js';

/** Severity words, lowest to highest; `unknown` sorts below `negligible`. */
export const SEVERITIES = ['unknown', 'negligible', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Numeric rank of a severity word (unknown = 0 … critical = 5). */
export function severityRank(s: string): number {
  const i = SEVERITIES.indexOf(s as Severity);
  return i < 0 ? 0 : i;
}

/** Parses a severity word case-insensitively; anything else is `unknown`. */
export function parseSeverity(s: string | undefined): Severity {
  const v = (s ?? '').toLowerCase();
  if (v === 'moderate') return 'medium';
  return (SEVERITIES as readonly string[]).includes(v) ? (v as Severity) : 'unknown';
}

/** One advisory affecting one installed package. */
export interface Finding {
  /** Id of the record that matched (`NSWG-NPM-516`, `DEBIAN-CL-CVE-2024-…`). */
  id: string;
  /** The other ids of the same vulnerability (CVE, GHSA, …). */
  aliases: string[];
  summary?: string;
  ecosystem: string;
  /** The package name as installed (binary name for OS packages). */
  package: string;
  /** The name the advisory names, when different (source package). */
  advisoryPackage?: string;
  installedVersion: string;
  /** Versions that fix it (empty when no fix is known). */
  fixedVersions: string[];
  severity: Severity;
  /** CVSS base score 0.0–10.0 and vector, when the record has one. */
  cvss?: { score: number; vector: string; version: string };
  /** When the advisory was published / modified (RFC 3339). */
  published?: string;
  modified?: string;
  layer?: Digest;
  path: string;
  purl?: string;
  platform?: string;
}
