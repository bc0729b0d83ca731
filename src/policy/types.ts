/**
 * Policy documents (`kind: Policy`, `apiVersion: pushgate.dev/v1`) as written, their compiled form,
 * and the evaluation input. The language is described in config/policy.yaml and README "Policy".
 */
import type { BaseImage } from '../core/base-image.js';
import type { EolFinding, Finding, Severity, SeveritySourceKind } from '../core/finding.js';
import type { ConfigFinding, Diagnostic, Package, SecretFinding } from '../core/inventory.js';
import type { ImageConfig } from '../core/manifest.js';
import type { Decision, PolicyMode, Reason } from '../core/verdict.js';
import type { KeyObject } from 'node:crypto';
import type { VexStatement } from './vex.js';

/** What a rule does when it fires. */
export type RuleAction = 'reject' | 'quarantine' | 'warn';

/** `match.vulnerability`: findings that satisfy every condition given (AND). */
export interface VulnerabilityMatchSpec {
  /** Lowest severity that matches (inclusive). */
  minSeverity?: Severity;
  /** Lowest CVSS base score that matches (inclusive); findings without a score do not match. */
  minCvss?: number;
  /** true: only findings with a fixed version; false: only findings without one. */
  fixAvailable?: boolean;
  /** Only once the fix has been public this long (duration); implies a fix. */
  fixGracePeriod?: string;
  /** Only advisories published at least this long ago (duration). */
  minAge?: string;
  /** Only advisories published at most this long ago (duration). */
  maxAge?: string;
  /** Only these advisory ids; a finding matches by its id or any alias (case-insensitive). */
  ids?: string[];
  /** Only packages of these ecosystems (OSV spelling, release suffix ignored). */
  ecosystems?: string[];
  /** Only these package names (globs). */
  packages?: string[];
  /** true: only findings whose CVE is in CISA's KEV catalog; false: only findings whose CVE is not. */
  kev?: boolean;
  /** Only findings with an EPSS score (0–1) / percentile (0–1) at least this; findings without EPSS data do not match. */
  epss?: { min?: number; minPercentile?: number };
}

/** `match.eol`: fires on `os-eol` / `runtime-eol` findings (the image's OS release or a runtime past end of regular support). */
export interface EolMatchSpec {
  /** Do not fire while extended support (Debian LTS, Ubuntu ESM, …) is still running. Default false. */
  allowExtendedSupport?: boolean;
  /** Fire only once regular support ended at least this long ago (duration). Default none. */
  gracePeriod?: string;
  /** `os`, `runtime` or both (default both). */
  kinds?: Array<'os' | 'runtime'>;
  /** Only these endoflife.date products (`debian`, `nodejs`, globs allowed). */
  products?: string[];
}

/** One `match.packages[]` entry of a package denylist. */
export interface PackageDenySpec {
  /** OSV ecosystem (`npm`, `Debian`, `PyPI`); any when omitted. */
  ecosystem?: string;
  /** Package name or glob (`event-stream`, `@evil/*`). */
  name: string;
  /**
   * Which versions are denied (all when omitted): for npm a node-semver range (`>=3.3.6 <4`), for
   * every other ecosystem exact versions (string equality), since their orders are not SemVer.
   */
  versions?: string | string[];
}

/** `match.secret`: secrets found in files. */
export interface SecretMatchSpec {
  /** Secret rule ids or globs (`private-key`, `aws-*`); all when omitted. */
  rules?: string[];
  minSeverity?: Severity;
}

/** `match.image`: exactly one check of the image configuration. */
export interface ImageMatchSpec {
  /** Fires when the image runs as root (no USER, USER root / 0, or the scanner's runs-as-root check). */
  runsAsRoot?: true;
  /** Fires when the config's `created` is older than this (duration). Images without `created` pass. */
  maxAge?: string;
  /** Fires when the image (config + layers, compressed) is larger than this (size). */
  maxSize?: string | number;
  /** Fires when any of these labels is missing or empty. */
  requiredLabels?: string[];
  /** Fires when the image exposes any of these ports: `22`, `22/tcp`, `6000-6063/tcp`. */
  forbiddenPorts?: Array<string | number>;
}

/**
 * `match.baseImage`, exactly one check: `allowed` fires when the image's base is not in the allowlist;
 * `upToDate` when the base's tag has moved on to a newer digest (a `refresh` recommendation, src/base)
 * for longer than `grace`; `maxAge` when the base image was created longer ago than this.
 */
export interface BaseImageMatchSpec {
  allowed?: Array<{
    /**
     * Glob on the base's name: the label `org.opencontainers.image.base.name` (`docker.io/library/debian:*`),
     * or the detected base's `repository:tag` of the base catalog (`lab/debian:12*`).
     */
    name?: string;
    /** The base image's layer diffIDs: the image's `rootfs.diff_ids` must begin with them. */
    diffIDs?: string[];
  }>;
  /** The base's tag has moved on (its catalog tag names a newer digest) for longer than `grace` (default 0s). */
  upToDate?: { grace?: string };
  /** The detected base's `created` is older than this duration. */
  maxAge?: string;
}

/** A rule's match: exactly one kind. */
export interface RuleMatchSpec {
  vulnerability?: VulnerabilityMatchSpec;
  packages?: PackageDenySpec[];
  secret?: SecretMatchSpec;
  image?: ImageMatchSpec;
  baseImage?: BaseImageMatchSpec;
  eol?: EolMatchSpec;
}

/** One rule of a rule set. */
export interface RuleSpec {
  /** Unique in its rule set; used in reasons, metrics (`rule` label) and exceptions. */
  name: string;
  description?: string;
  action: RuleAction;
  /** Overrides the rule set's `excludeBase` for this rule. */
  excludeBase?: boolean;
  match: RuleMatchSpec;
}

/** A named rule set (`spec.ruleSets.<name>`). */
export interface RuleSetSpec {
  description?: string;
  /** Action when the scan is incomplete; `allow` adds no reason. Default `quarantine`. */
  onIncomplete?: RuleAction | 'allow';
  /**
   * Action when packages of an ecosystem could not be matched against advisories (an `ecosystem-uncovered`
   * diagnostic: no advisories loaded, no version order, or an OS OSV does not cover); `allow` adds no reason. Default `warn`.
   */
  onUncovered?: RuleAction | 'allow';
  /** How `unknown` severity counts in severity conditions: `ignore` (never matches) or a severity word. Default `ignore`. */
  unknownSeverity?: 'ignore' | Severity;
  /** Drop findings, secrets and packages whose layer is one of the base image's layers. Default false. */
  excludeBase?: boolean;
  rules: RuleSpec[];
}

/** One mapping: globs on the pushed reference → rule set and mode. First match wins. */
export interface MappingSpec {
  name?: string;
  /** Globs (picomatch); an omitted field matches anything, a given one requires the field. */
  registry?: string;
  repository?: string;
  tag?: string;
  ruleSet: string;
  /** Default `enforce`. */
  mode?: PolicyMode;
  /**
   * What happens when a re-judgement after a database change (src/monitor) makes an already judged
   * image fail more strictly than before: `notify` (default: the previous decision stays, the new
   * findings are notified), `warn` (at most warn), `quarantine` (at most quarantine), `reject` (the new
   * decision in full). A push is always judged in full.
   */
  onNewFindings?: OnNewFindings;
  /** Per severity word: how long a new finding only warns before `quarantine`/`reject` is enforced (`7d`). */
  grace?: Partial<Record<Severity, string>>;
}

/** See {@link MappingSpec.onNewFindings}. */
export type OnNewFindings = 'notify' | 'warn' | 'quarantine' | 'reject';

/** A time-boxed exception. Every scope given must match (AND); at least one scope is required. */
export interface ExceptionSpec {
  name?: string;
  reason: string;
  owner: string;
  /** `2026-12-31` (valid through that day, UTC) or an RFC 3339 date-time. Required. */
  expires: string;
  /** Advisory ids or aliases, secret rule ids, image check ids, package names for denylist rules. */
  ids?: string[];
  /** Package names or globs the exception covers. */
  packages?: string[];
  /** Repository glob. */
  repository?: string;
  /**
   * Registry glob (a configured `registries[].name`, or `host[:port]` for `pushgate scan REF`): narrows
   * the other scopes to that registry; not a scope on its own. Without it the exception applies to the
   * same repository and digest on every registry (a release writes the registry it was made in).
   */
  registry?: string;
  /** Manifest digest. */
  digest?: string;
  /** Limit to these rule names (`incomplete-scan` included). */
  rules?: string[];
}

/**
 * One authority of a signature rule: exactly one of `key` (a PEM public key, inline) or `keyless` (a
 * Fulcio certificate identity: OIDC issuer and subject, checked against the configured trusted root).
 */
export interface SignatureAuthoritySpec {
  /** Unique in its rule; named in messages. */
  name: string;
  /** PEM `PUBLIC KEY` (ECDSA P-256/P-384, RSA, Ed25519), as `cosign generate-key-pair` writes `cosign.pub`. */
  key?: string;
  keyless?: {
    /** OIDC issuer URL, compared exactly (`https://token.actions.githubusercontent.com`). */
    issuer: string;
    /** Certificate subject alternative name, compared exactly (an email or a URI). */
    subject?: string;
    /** Regular expression (ECMAScript, anchored at both ends) on the subject alternative name. */
    subjectRegExp?: string;
  };
}

/**
 * `spec.signatures[]`: images of the matching repositories must carry cosign signatures of the
 * given authorities. Enforced at admission (signing usually follows the push); a push is never refused
 * for a missing signature.
 */
export interface SignatureRuleSpec {
  /** Unique among signature rules; named in every denial (`signature rule prod-signed`). */
  name: string;
  /** Glob on the configured registry name; any when omitted. */
  registry?: string;
  /** Glob on the repository (`prod/**`). */
  repository: string;
  /** `anyOf` (default): one authority's valid signature suffices; `allOf`: every authority must have signed. */
  require?: 'anyOf' | 'allOf';
  /** `enforce` (default) denies at admission; `warn` admits with a warning. */
  mode?: 'enforce' | 'warn';
  authorities: SignatureAuthoritySpec[];
}

/**
 * `spec.vex`: who may vouch, through the registry, that a vulnerability does not affect an image. VEX
 * documents attached to the judged image digest (cosign OpenVEX attestations, or plain VEX referrers
 * carrying a cosign signature of their own) count only when one of these authorities signed them, and
 * apply to that digest only.
 */
export interface VexReferrersSpec {
  /** Same shape as a signature rule's authorities; names unique. Without any, referrers are not read. */
  authorities: SignatureAuthoritySpec[];
}

/** A compiled authority (the shape src/trust verifies against). */
export type CompiledAuthority =
  | { name: string; kind: 'key'; publicKey: KeyObject }
  | { name: string; kind: 'keyless'; issuer: string; subject?: string; subjectRegExp?: RegExp };

/** A compiled signature rule. */
export interface CompiledSignatureRule {
  name: string;
  require: 'anyOf' | 'allOf';
  mode: 'enforce' | 'warn';
  authorities: CompiledAuthority[];
  /** True when the rule covers (registry name, repository). */
  matches(registry: string, repository: string): boolean;
}

/** The whole document. */
export interface PolicyDocument {
  apiVersion: 'pushgate.dev/v1';
  kind: 'Policy';
  metadata: { name: string; description?: string };
  spec: {
    ruleSets: Record<string, RuleSetSpec>;
    mappings?: MappingSpec[];
    /** Used when no mapping matches. Default: rule set `default`, mode `enforce`. */
    default?: { ruleSet: string; mode?: PolicyMode; onNewFindings?: OnNewFindings; grace?: Partial<Record<Severity, string>> };
    exceptions?: ExceptionSpec[];
    /** Signature requirements per repository glob, checked at admission (see {@link SignatureRuleSpec}). */
    signatures?: SignatureRuleSpec[];
    /** VEX read from the image's referrers (see {@link VexReferrersSpec}). */
    vex?: VexReferrersSpec;
    /**
     * How a finding's severity is chosen among its ratings: `prefer` lists the sources in order
     * (`vendor`, `advisory`, `nvd`, `osv`); a source left out is never used. Default all four in that order.
     */
    severity?: { prefer?: SeveritySourceKind[] };
  };
}

/** Something a rule matched: a finding, a secret, a package or an image check. */
export interface PolicyItem {
  /** Advisory id, secret rule id, package name or check id. */
  id: string;
  aliases?: string[];
  ecosystem?: string;
  package?: string;
  installedVersion?: string;
  fixedVersions?: string[];
  severity?: string;
  path?: string;
  layer?: string;
  /** `base` or `app` when the image's base is known (src/base/attribute.ts); excludeBase drops `base` items. */
  origin?: 'base' | 'app';
  /** One human sentence about this item (`adm-zip 0.4.7 (npm): NSWG-NPM-458 …, fixed in 0.4.9`). */
  text: string;
}

/** A reason with the items that made the rule fire, so a person can act on it. */
export interface PolicyReason extends Reason {
  items?: Array<Omit<PolicyItem, 'text'>>;
}

/** What a rule kind's matcher sees. */
export interface RuleContext {
  input: PolicyInput;
  /** Evaluation time, ms since the epoch. */
  now: number;
  unknownSeverity: 'ignore' | Severity;
}

/** A compiled rule. */
export interface CompiledRule {
  name: string;
  action: RuleAction;
  kind: keyof RuleMatchSpec;
  excludeBase: boolean;
  /** Items that make the rule fire (before exceptions and excludeBase). */
  match(ctx: RuleContext): PolicyItem[];
  /** Header of the reason message: `2 vulnerabilities (severity >= high, fix available)`. */
  describe(items: PolicyItem[]): string;
  /** What to do, appended to the message. */
  advice?: string;
}

/** A compiled rule set. */
export interface CompiledRuleSet {
  name: string;
  onIncomplete: RuleAction | 'allow';
  onUncovered: RuleAction | 'allow';
  unknownSeverity: 'ignore' | Severity;
  excludeBase: boolean;
  rules: CompiledRule[];
}

/** A compiled mapping. */
export interface CompiledMapping {
  name: string;
  ruleSet: string;
  mode: PolicyMode;
  /** See {@link MappingSpec.onNewFindings}; `notify` when not given. */
  onNewFindings: OnNewFindings;
  /** Grace per severity word, ms (absent: none). */
  graceMs: Partial<Record<Severity, number>>;
  matches(input: { registry?: string; repository?: string; tag?: string }): boolean;
  /** True when the mapping has a `tag` glob (so it never matches an untagged reference). */
  constrainsTag: boolean;
  /** True when the registry and repository globs match, whatever the tag glob says. */
  matchesRepository(input: { registry?: string; repository?: string }): boolean;
}

/** A compiled exception. */
export interface CompiledException {
  /** `name`, else `exceptions[i]`. */
  name: string;
  spec: ExceptionSpec;
  /** Last instant it applies, ms since the epoch. */
  expiresAt: number;
  /** True when the repository/digest scope (if any) covers the image. */
  coversImage(input: PolicyInput): boolean;
  /** True when the id/package/rule scope (if any) covers the item of that rule. */
  coversItem(rule: string, item: PolicyItem): boolean;
}

/** A policy ready to evaluate: compile once, evaluate many times. */
export interface CompiledPolicy {
  /** `metadata.name`. */
  name: string;
  /** First 12 hex digits of the sha256 of the document text (changes with every edit). */
  revision: string;
  /** Where it came from: an absolute path, or `<built-in>`. */
  source: string;
  /** The document text. */
  text: string;
  document: PolicyDocument;
  ruleSets: Record<string, CompiledRuleSet>;
  mappings: CompiledMapping[];
  defaultMapping: CompiledMapping;
  exceptions: CompiledException[];
  /** `spec.signatures`, compiled (empty when none). */
  signatures: CompiledSignatureRule[];
  /** `spec.vex.authorities`, compiled (empty when none: the image's referrers are not read for VEX). */
  vexAuthorities: CompiledAuthority[];
  /** VEX statements in force (config `vex.paths`), applied to findings before the rules see them (src/policy/vex.ts). */
  vex?: readonly VexStatement[];
  /** `spec.severity.prefer`, when given (the matcher's default order otherwise). */
  severityPrefer?: SeveritySourceKind[];
}

/** What the policy judges: one image (one platform or the merged index) and where it was pushed. */
export interface PolicyInput {
  /** Registry name (configured `registries[].name`) or `host[:port]` for `pushgate scan REF`. */
  registry?: string;
  repository?: string;
  tag?: string;
  digest?: string;
  findings: Finding[];
  /** End-of-life findings of the image (`match.eol`). */
  eol?: EolFinding[];
  secrets: SecretFinding[];
  config: ConfigFinding[];
  diagnostics: Diagnostic[];
  packages: Package[];
  imageConfig?: ImageConfig;
  /** Image size in bytes (manifest config + layers, compressed) for `image.maxSize`. */
  imageSize?: number;
  /** False when the scan could not read everything (`onIncomplete` decides). */
  complete: boolean;
  /** diffIDs of the base image's layers, for excludeBase (items without an `origin`). */
  baseLayers?: string[];
  /**
   * True when the base attribution rests on evidence the image author cannot forge alone: a base found by
   * its diffID chain in the catalog, or annotations/provenance checked against the catalog's chain (src/base
   * methods `chain`, `annotation`, `provenance`). `excludeBase` applies only then: history, labels and
   * layer counts are written by whoever pushed the image, so they would let a pusher declare their own
   * layers "base" and have their findings dropped. The CLI sets it for the developer's own history and
   * `--file` (JudgeOptions.trustAuthorBase).
   */
  baseVerified?: boolean;
  /** The detected base image with its recommendations (src/base), for the `baseImage` rules. */
  base?: BaseImage;
  /** Evaluation time (default: now); used for exception expiry, grace periods and ages. */
  now?: Date;
}

/** evaluate()'s result. */
export interface PolicyEvaluation {
  decision: Decision;
  reasons: PolicyReason[];
  policy: { name: string; revision: string };
  mode: PolicyMode;
  /** Rule set chosen by the mappings. */
  ruleSet: string;
  /** Mapping that matched (`default` when none). */
  mapping: string;
  /** Expired exceptions whose image scope covers this image (they no longer apply). */
  expiredExceptions: string[];
  /** Active exceptions that removed at least one item. */
  appliedExceptions: string[];
}
