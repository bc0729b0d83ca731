/**
 * Vulnerability findings: an advisory matched to an installed package.
 */
import type { Origin } from './base-image.js';
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
/** A VEX statement that suppresses a finding for policy (src/policy/vex.ts); the finding stays in reports. */
export interface FindingVex {
  status: 'not_affected' | 'fixed';
  /** OpenVEX justification (`vulnerable_code_not_in_execute_path`, …). */
  justification?: string;
  impactStatement?: string;
  /** Which document and statement (`/etc/pushgate/vex/app.json#statements[0]`). */
  source: string;
}

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
  /** Where `severity` came from: `NVD CVSS_V3.1 CVE-2023-44487`, `NSWG-NPM-458 CVSS_V3`, `none`. */
  severitySource?: string;
  /** Every rating known for it, by source (see {@link SeverityRating}); `severity` is the first of them in the policy's `severity.prefer` order. */
  severities?: SeverityRating[];
  /** Set when a CVE id of it is in CISA's Known Exploited Vulnerabilities catalog (dates `YYYY-MM-DD`). */
  kev?: { cve: string; dateAdded: string; dueDate: string; knownRansomwareCampaignUse: string };
  /** FIRST EPSS: probability of exploitation in the next 30 days and its percentile, both 0–1 (highest over its CVE ids). */
  epss?: { cve: string; score: number; percentile: number };
  /** Set when a VEX statement says the image is not affected or has it fixed: not judged by policy. */
  vex?: FindingVex;
  /** `base` when its package comes from the image's base, `app` otherwise; absent when no base is known. */
  origin?: Origin;
}

/**
 * Where a severity rating comes from: `vendor` the OS vendor's own word in the matched record (Ubuntu
 * priority, Red Hat impact), `advisory` the matched record's own CVSS vector or rating, `nvd` NVD's score
 * of its CVE alias, `osv` the highest CVSS/rating of another OSV record (any ecosystem) sharing an id or alias.
 */
export const SEVERITY_SOURCES = ['vendor', 'advisory', 'nvd', 'osv'] as const;
export type SeveritySourceKind = (typeof SEVERITY_SOURCES)[number];

/** One rating of a finding: its source kind, the record or database it came from, the word and the CVSS score if any. */
export interface SeverityRating {
  source: SeveritySourceKind;
  /** `NVD CVSS_V3.1 CVE-2023-44487`, `UBUNTU-CVE-2024-1 severity.Ubuntu`, … */
  from: string;
  severity: Severity;
  cvss?: { score: number; vector: string; version: string };
}

/**
 * Identity of a package instance: platform, path, name, version (of a package, or of the package a
 * finding is on).
 */
export function packageInstance(x: { platform?: string; path: string; name?: string; package?: string; version?: string; installedVersion?: string }): string {
  return `${x.platform ?? ''}\u001f${x.path}\u001f${x.name ?? x.package}\u001f${x.version ?? x.installedVersion}`;
}

/**
 * Identity of a finding within an image: its package instance and advisory id (the monitor's index
 * keys, src/monitor/image-index.ts; report patches name findings by it, src/store/report-patch.ts).
 */
export function findingKey(f: Finding): string {
  return `${packageInstance(f)}\u001f${f.id}`;
}

/**
 * Risk order, highest first: in the KEV catalog, then higher EPSS score, then higher CVSS score, then
 * higher severity word; ties by id, then package, installed version, path and platform (a total order
 * over a report's findings, so the same findings sort the same whatever order they were found in: the
 * monitor's patched re-judgement relies on it, src/monitor/monitor.ts). For sorting findings in tables
 * and reports.
 */
export function compareRisk(a: Finding, b: Finding): number {
  return (
    Number(!!b.kev) - Number(!!a.kev) ||
    (b.epss?.score ?? -1) - (a.epss?.score ?? -1) ||
    (b.cvss?.score ?? -1) - (a.cvss?.score ?? -1) ||
    severityRank(b.severity) - severityRank(a.severity) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
    (a.package < b.package ? -1 : a.package > b.package ? 1 : 0) ||
    (a.installedVersion < b.installedVersion ? -1 : a.installedVersion > b.installedVersion ? 1 : 0) ||
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
    ((a.platform ?? '') < (b.platform ?? '') ? -1 : (a.platform ?? '') > (b.platform ?? '') ? 1 : 0)
  );
}

/** An `os-eol` / `runtime-eol` finding: the product release is past its end of regular support at the time judged. */
export interface EolFinding {
  id: 'os-eol' | 'runtime-eol';
  product: string;
  cycle: string;
  codename?: string;
  version: string;
  via: string;
  /** End of regular security support, `YYYY-MM-DD`, or `unknown` when the data only says it ended. */
  eol: string;
  /** End of extended support (LTS/ESM/commercial) when the product has one: a date, or `unknown` when only known to have ended. */
  extendedSupportUntil?: string;
  /** True when extended support is still running at the time judged. */
  inExtendedSupport: boolean;
  path?: string;
  layer?: string;
  platform?: string;
}
