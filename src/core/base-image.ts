/**
 * Base image nouns: what an image is built on (detected by src/base), the scan summary a base
 * catalog keeps per image, and the upgrade recommendations made from it. No I/O.
 */
import type { Digest } from './digest.js';
import type { Severity } from './finding.js';

/** Whether a package, finding or secret comes from the image's base or from its own layers. */
export type Origin = 'base' | 'app';

/**
 * How a base was found, strongest evidence first: `annotation` (`org.opencontainers.image.base.*`,
 * checked against the layers), `provenance` (a BuildKit SLSA provenance attestation's materials in the
 * index, checked against the layers), `chain` (the longest diffID chain of a catalog image that is a
 * prefix of this image's), `history` (the image config's history: layer count only, no name), `none`.
 */
export type BaseDetectionMethod = 'annotation' | 'provenance' | 'chain' | 'history' | 'none';

/** Vulnerability counts of one scanned image: per severity, and how many of those have a fixed version. */
export interface VulnSummary {
  counts: Record<Severity, number>;
  fixable: Record<Severity, number>;
}

/** The base of one image manifest. */
export interface BaseImage {
  /** Image platform (`linux/amd64`) of the manifest this describes. */
  platform?: string;
  method: BaseDetectionMethod;
  /** Configured registry name of the base, when it was named from the catalog. */
  registry?: string;
  /** Repository of the base (`lab/debian`); absent for `history`. */
  repository?: string;
  /** Tags of the catalog pointing (or having pointed) at the base digest, sorted. */
  tags: string[];
  /** The base's image manifest digest, when known. */
  digest?: Digest;
  /** diffIDs (else blob digests) of the layers that are the base's, lowest first. */
  layers: Digest[];
  /** One sentence: how the base was decided, and why stronger evidence was refused. */
  note: string;
  /** The base image's creation time (config `created`, RFC 3339), when known. */
  created?: string;
  /** The base's stored scan summary, when the catalog holds one. */
  summary?: VulnSummary;
  /** Upgrade candidates, best first (src/base/recommend.ts). */
  recommendations?: BaseRecommendation[];
}

/**
 * One upgrade candidate: `refresh` (the base's own tag now points to a newer digest), `update` (a
 * newer tag of the same line and flavour: 12.8 → 12.9), `alternative` (another flavour such as
 * `-slim`, or another major version).
 */
export interface BaseRecommendation {
  kind: 'refresh' | 'update' | 'alternative';
  repository: string;
  tag: string;
  digest: Digest;
  created?: string;
  /** Its vulnerability counts (undefined when it could not be scanned). */
  summary?: VulnSummary;
  /** For `refresh`: when the base's tag moved to this digest (RFC 3339). */
  since?: string;
  /** Findings of the current base that this candidate no longer has (advisory ids), when both scans are stored. */
  fixes?: string[];
}

/** An empty {@link VulnSummary}. */
export function emptySummary(): VulnSummary {
  const zero = (): Record<Severity, number> => ({ unknown: 0, negligible: 0, low: 0, medium: 0, high: 0, critical: 0 });
  return { counts: zero(), fixable: zero() };
}

/** `0 high, 2 medium`-style text of a summary, highest severity first, zero counts of critical/high kept. */
export function summaryText(s: VulnSummary | undefined): string {
  if (!s) return 'not scanned';
  const parts: string[] = [];
  for (const sev of ['critical', 'high', 'medium', 'low'] as const) {
    if (s.counts[sev] || sev === 'high' || (sev === 'critical' && s.counts.critical)) parts.push(`${s.counts[sev]} ${sev}`);
  }
  return parts.join(', ');
}

/** `lab/debian:12.9-slim` of a recommendation. */
export function recommendationRef(r: BaseRecommendation): string {
  return `${r.repository}:${r.tag}`;
}

/**
 * The one-line advice for an image whose base has recommendations: `rebuild on lab/debian:12.9-slim:
 * 0 high, 2 medium` (the best-ranked candidate of the first base that has one), else undefined.
 */
export function rebuildHint(bases: readonly BaseImage[] | undefined): string | undefined {
  const b = bases?.find((x) => x.recommendations?.length);
  const r = b?.recommendations?.[0];
  if (!r) return undefined;
  return `rebuild on ${recommendationRef(r)}${r.kind === 'refresh' ? ` (refreshed ${r.digest.slice(0, 19)}…)` : ''}: ${summaryText(r.summary)}`;
}
