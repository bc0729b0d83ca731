/**
 * Verdicts and scan reports: the public JSON contract of DESIGN.md §3.
 */
import type { Digest } from './digest.js';
import type { BaseImage } from './base-image.js';
import type { EolFinding, Finding } from './finding.js';
import type { ConfigFinding, Diagnostic, EcosystemCoverage, Package, SecretFinding } from './inventory.js';

/** Decisions from least to most severe. */
export const DECISIONS = ['allow', 'warn', 'quarantine', 'reject'] as const;
export type Decision = (typeof DECISIONS)[number];

/** Numeric rank of a decision (allow = 0 … reject = 3). */
export function decisionRank(d: Decision): number {
  return DECISIONS.indexOf(d);
}

/** The more severe of two decisions (an index's decision is the worst of its children's). */
export function worstDecision(a: Decision, b: Decision): Decision {
  return decisionRank(a) >= decisionRank(b) ? a : b;
}

/** True for decisions that block (quarantine, reject). */
export function isBlocking(d: Decision): boolean {
  return d === 'quarantine' || d === 'reject';
}

/** Policy mode of a mapping: `enforce` acts, `warn` downgrades blocking actions, `audit` only records. */
export type PolicyMode = 'enforce' | 'warn' | 'audit';

/** Why a decision was taken: one per policy rule that fired. */
export interface Reason {
  /** Rule name (`secrets`, `fixable-high-vulns`, `runs-as-root`, `incomplete-scan`). */
  rule: string;
  action: Decision;
  /** A sentence a person can act on: what, where, and what fixes it. */
  message: string;
  /** Finding ids, secret rules or check ids that triggered the rule. */
  findings?: string[];
  /**
   * For the `on-new-findings` hold (src/monitor/on-new-findings.ts): when its block is due (ISO 8601).
   * A later judgement keeps it, so findings arriving during a grace do not restart the grace.
   */
  until?: string;
}

/** The reasons whose action blocks (quarantine, reject), in the verdict's order. */
export function blockingReasons(v: { reasons: readonly Reason[] }): Reason[] {
  return v.reasons.filter((r) => isBlocking(r.action));
}

/** The rule names of {@link blockingReasons}, each once, in the verdict's order (audit records, refusals). */
export function blockingRules(v: { reasons: readonly Reason[] }): string[] {
  return [...new Set(blockingReasons(v).map((r) => r.rule))];
}

/** The policy evaluation of one image (before enforcement). */
export interface Evaluation {
  decision: Decision;
  reasons: Reason[];
  policy: { name: string; revision: string };
}

/**
 * The policy's judgement of an image under one rule set, before any mode applies: `decision` is the
 * worst action of `reasons` (`allow` when none), never downgraded by `warn` mode.
 */
export interface RawEvaluation {
  decision: Decision;
  reasons: Reason[];
}

/** The decision and mode a verdict carries for one reference: a tag, or the untagged digest. */
export interface TagDecision {
  decision: Decision;
  mode: PolicyMode;
  /** Rule set and mapping the policy picked for the reference. */
  ruleSet: string;
  mapping: string;
}

/** What enforcement did on the registry. */
export interface Enforcement {
  action: 'quarantine' | 'delete' | 'none' | 'label' | 'restore';
  status: 'done' | 'failed' | 'skipped' | 'pending';
  detail: string;
}

/** One verdict per (registry, repository, manifest digest). DESIGN.md §3 "Verdict". */
export interface Verdict {
  registry: string;
  repository: string;
  digest: Digest;
  tags: string[];
  decision: Decision;
  complete: boolean;
  reasons: Reason[];
  mode: PolicyMode;
  enforcement?: Enforcement;
  policy: { name: string; revision: string };
  /** The vulnerability database that judged it: build time and content digest (`sha256:…`, absent when unknown). */
  vulndb: { builtAt: string | null; digest?: string | null };
  evaluatedAt: string;
  /**
   * The raw evaluation per rule set that any tag of this repository (or the untagged digest) can map
   * to. `decision`, `mode` and `reasons` for a reference are derived from these with the mapping of
   * that reference at every use (src/gate/verdict-view.ts), so a retag to a stricter mapping is judged
   * by it. Absent on verdicts stored before it existed (derived from `reasons` then).
   */
  evaluations?: Record<string, RawEvaluation>;
  /** Per tag named in `tags`: its derived decision and mode (API answers only; never stored). */
  perTag?: Record<string, TagDecision>;
}

/** The scan report (`pushgate scan --format json`, `GET /api/v1/images/{digest}`). */
export interface ScanReport {
  target: string;
  /** The digest of the target's root manifest: the one asked for (an image index's digest when the target is an index). */
  digest?: Digest;
  /** The root manifest's media type (an index type when `digest` is an index's). */
  mediaType?: string;
  os?: { id: string; versionId?: string };
  platforms?: string[];
  /**
   * The image manifests judged, one per platform scanned, in `platforms` order: for an index, its
   * children (one with `--platform`); for a single image, its manifest (`digest` again). Absent for
   * targets without manifests (`dir:`, `sbom:`) and in reports stored before it existed.
   */
  manifests?: Array<{ platform: string; digest: Digest }>;
  packages: Package[];
  /** Vulnerability findings, highest risk first (KEV, then EPSS, then CVSS: compareRisk). */
  findings: Finding[];
  /** `os-eol` / `runtime-eol` findings: releases past end of regular security support at the time judged. */
  eol?: EolFinding[];
  secrets: SecretFinding[];
  config: ConfigFinding[];
  diagnostics: Diagnostic[];
  /**
   * The layers (diffIDs, or blob digests without diffIDs) that come from the base image, as guessed
   * from the image history (every platform's, each once); a package or finding whose `layer` is not
   * among them was added by the image's own build. Absent when the history does not tell.
   */
  baseLayers?: Digest[];
  /** Per ecosystem found: matched against advisories or not, and why not (absent when there was no vulnerability database). */
  coverage?: EcosystemCoverage[];
  /** The base image of each platform whose base was found (src/base), with upgrade recommendations. */
  bases?: BaseImage[];
  complete: boolean;
  verdict: Evaluation & { complete: boolean };
  vulndb?: { builtAt: string | null; digest?: string | null };
  scannedAt: string;
}
