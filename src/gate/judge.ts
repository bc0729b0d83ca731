/**
 * From a scan to a judged report: match each platform's inventory against the vulnerability
 * database, evaluate the policy per platform, and combine (an index's decision is the worst of
 * its children's). Shared by `pushgate scan` and the gate pipeline.
 */
import {
  compareRisk,
  worstDecision,
  type EolFinding,
  type Decision,
  type Diagnostic,
  type Digest,
  type BaseImage,
  type Evaluation,
  type Finding,
  type Package,
  type SecretFinding,
  type PolicyMode,
  type RawEvaluation,
  type Reason,
  type ScanReport,
} from '../core/index.js';
import { applyMode, applyVex, candidateRuleSets, UNCOVERED_CODE, evaluateRuleSet, selectMapping, type CompiledPolicy, type PolicyInput, type RawPolicyEvaluation, type VexStatement } from '../policy/index.js';

/** Diagnostic code of OS packages that could not be matched because the image's OS release is unreadable (incomplete). */
export const OS_RELEASE_UNKNOWN = 'os-release-unknown';
import type { ImageScan, PlatformScan } from '../scan/engine.js';
// The modules themselves, not the vulndb index: judging needs neither `db update` nor its sources.
import { eolFindings, eolSubjects } from '../vulndb/enrich/eol.js';
import type { MatchMemo, VulnDb } from '../vulndb/db.js';
import { secretsWithOrigin, withOrigin, type BaseSide } from '../base/attribute.js';

/** The judgement of one platform's image manifest. */
export interface ChildJudgement {
  digest: Digest;
  platform: string;
  /** Under the mapping of the judged reference (mode applied). */
  evaluation: Evaluation;
  complete: boolean;
  /** Raw evaluation per candidate rule set (see {@link Judgement.raw}). */
  raw: Record<string, RawEvaluation>;
}

/** A judged scan: the report (with its verdict) and one judgement per platform manifest. */
export interface Judgement {
  report: ScanReport;
  /** Under the mapping of the judged reference (`ctx.tag`): rule set and mode of that mapping. */
  evaluation: Evaluation & { mode: PolicyMode };
  children: ChildJudgement[];
  /**
   * The raw evaluation (no mode applied) under every rule set that a reference of the repository can
   * map to (`candidateRuleSets`), so the decision for another tag is derived without judging again.
   * Absent for judgements that no rule set changes (non-image artefacts): every rule set gets
   * `evaluation` then.
   */
  raw?: Record<string, RawEvaluation>;
}

/** Where the image lives, for policy mappings; all optional for local scans. */
export interface JudgeContext {
  registry?: string;
  repository?: string;
  tag?: string;
  /** The time judged (end-of-life dates, grace periods, exception expiry); default now. Tests set it. */
  now?: Date;
}

/** Options of {@link judgeScan}. */
export interface JudgeOptions {
  /**
   * Applied to each platform's matched findings before the policy sees them (the CLI's
   * `--exclude-base`, `--ignore-unfixed`, `--ignore-file`), so verdict and report agree.
   */
  filterFindings?: (findings: Finding[], platform: PlatformScan) => Finding[];
  /**
   * The detected base of each platform (src/base/catalog.ts): sets `origin` on packages, findings and
   * secrets, the policy's base layers and `base`, and the report's `bases`.
   */
  bases?: Map<PlatformScan, PlatformBase>;
  /**
   * Lets the policy's `excludeBase` use a base the image author declared (history, `--file`), not only one
   * the catalog verified (PolicyInput.baseVerified). For `pushgate scan`, where the developer judges their
   * own image; never for the gate, where the pusher writes the history.
   */
  trustAuthorBase?: boolean;
  /**
   * VEX from the image's referrers, signed by a `spec.vex` authority and scoped to the judged digest
   * (src/gate/referrer-vex.ts): applied with the policy's statements; `diagnostics` (non-incomplete) say
   * what was ignored.
   */
  referrerVex?: { statements: readonly VexStatement[]; diagnostics: Diagnostic[] };
  /**
   * Match results shared with other judgements on the same database (src/vulndb/db.ts MatchMemo): a
   * monitor pass judges thousands of stored scans holding mostly the same packages. The report then
   * holds finding objects shared with those judgements (never changed once made).
   */
  matchMemo?: MatchMemo;
  /**
   * The `pushgate db update …` command line that builds the database this judgement looked for, named by
   * the `vulndb-missing` diagnostic (the CLI's, with `--db`/`--config` when those chose the path: a bare
   * command builds the cache directory's database). Default: `pushgate db update`.
   */
  vulndbUpdate?: string;
  /**
   * The whole message of the `vulndb-missing` diagnostic when the caller knows more than that there is
   * none (the CLI: a file at the database path that is no readable database). Default: says there is
   * none and names {@link vulndbUpdate}.
   */
  vulndbMissing?: string;
}

/** Base detection methods whose evidence the catalog checked (src/base/detect.ts): excludeBase may use them. */
const VERIFIED_BASE_METHODS: ReadonlySet<string> = new Set(['chain', 'annotation', 'provenance']);

/** The base of one platform as the judge uses it. */
export interface PlatformBase {
  base: BaseImage;
  /** Package keys (src/base/attribute.ts packageKey) the base image itself holds, when its scan is stored. */
  basePackages?: Set<string>;
  /** Refused base evidence, reported as diagnostics (not incomplete). */
  refused?: Array<{ code: string; message: string }>;
}

/** One platform's policy input, built once and evaluated under each candidate rule set. */
interface PlatformInput {
  platform: string;
  digest: Digest;
  input: PolicyInput;
  complete: boolean;
  /**
   * The platform's manifest as pulled by its own digest (`repository@<child digest>`): its own
   * inventory, without what belongs to the index around it (the index's incomplete diagnostics, such as
   * a sibling that is no image, and secrets in the index itself). Its stored verdict is judged from this,
   * so a clean child is not removed with a blocked index, nor blocked for its sibling.
   */
  own: { input: PolicyInput; complete: boolean };
}

/**
 * The raw evaluations of an index's (or a single manifest's) platforms under one rule set, combined:
 * the worst decision, each reason once with the platforms it fired on.
 */
function combine(policy: CompiledPolicy, inputs: PlatformInput[], ruleSet: string, multi: boolean): { raw: RawEvaluation; perPlatform: RawPolicyEvaluation[] } {
  let decision: Decision = 'allow';
  const reasons: Reason[] = [];
  const seen = new Map<string, { reason: Reason; platforms: string[] }>();
  const perPlatform: RawPolicyEvaluation[] = [];
  for (const p of inputs) {
    const ev = evaluateRuleSet(policy, p.input, ruleSet);
    perPlatform.push(ev);
    decision = worstDecision(decision, ev.decision);
    for (const r of ev.reasons) {
      const key = `${r.rule}\u0000${r.message}`;
      const at = seen.get(key);
      if (at) {
        at.platforms.push(p.platform);
        continue;
      }
      const entry = { reason: { ...r }, platforms: [p.platform] };
      seen.set(key, entry);
      reasons.push(entry.reason);
    }
  }
  if (multi) for (const { reason, platforms } of seen.values()) reason.message = `${reason.message} (${platforms.join(', ')})`;
  return { raw: { decision, reasons }, perPlatform };
}

/**
 * Judges a scan: every platform is matched against the vulnerability database once, then evaluated
 * under each rule set a reference of `ctx.repository` can map to (`Judgement.raw`); `evaluation` and
 * the report's verdict are those of `ctx.tag`'s mapping.
 * @param vulndb the opened database, or undefined when there is none (the report is then
 *   incomplete with a `vulndb-missing` diagnostic, and the policy's onIncomplete decides).
 */
export function judgeScan(scan: ImageScan, vulndb: VulnDb | undefined, policy: CompiledPolicy, ctx: JudgeContext = {}, opts: JudgeOptions = {}): Judgement {
  const multi = scan.platforms.length > 1;
  const report: ScanReport = {
    target: scan.target,
    digest: scan.digest,
    mediaType: scan.mediaType,
    platforms: scan.platforms.map((p) => p.platform),
    // `digest` is what was asked for (an index's); these are what was judged. Directory and SBOM
    // scans have no manifest.
    ...(scan.platforms.some((p) => p.manifestDigest) ? { manifests: scan.platforms.filter((p) => p.manifestDigest).map((p) => ({ platform: p.platform, digest: p.manifestDigest })) } : {}),
    packages: [],
    findings: [],
    secrets: [],
    config: [],
    diagnostics: [...scan.diagnostics, ...(opts.referrerVex?.diagnostics ?? [])],
    complete: true,
    verdict: { decision: 'allow', reasons: [], policy: { name: policy.name, revision: policy.revision }, complete: true },
    vulndb: { builtAt: vulndb?.builtAt ?? null, digest: vulndb?.contentDigest ?? null },
    scannedAt: new Date().toISOString(),
  };
  // Image-level problems (unreadable child manifest, no vulnerability database) apply to every platform.
  const imageLevel: Diagnostic[] = scan.diagnostics.filter((d) => d.incomplete);
  // Secrets in the index itself are in every platform's push: each platform is judged with them.
  const indexSecrets = scan.secrets ?? [];
  report.secrets.push(...indexSecrets);
  if (!vulndb) {
    const d: Diagnostic = { code: 'vulndb-missing', message: opts.vulndbMissing ?? `no vulnerability database: packages were not matched against advisories; build one with \`${opts.vulndbUpdate ?? 'pushgate db update'}\` (offline: \`--source FILE|DIR\`, a local OSV export)`, incomplete: true };
    report.diagnostics.push(d);
    imageLevel.push(d);
  }
  const vex = [...(policy.vex ?? []), ...(opts.referrerVex?.statements ?? [])];
  const inputs: PlatformInput[] = [];
  for (const p of scan.platforms) {
    const tagP = <T extends object>(x: T): T => (multi ? { ...x, platform: p.platform } : x);
    const pb = opts.bases?.get(p);
    const side: BaseSide | undefined = pb && pb.base.method !== 'none' ? { layers: new Set(pb.base.layers), packages: pb.basePackages } : undefined;
    const packages: Package[] = side ? withOrigin(p.inventory.packages, side) : p.inventory.packages;
    const secrets: SecretFinding[] = side ? secretsWithOrigin(p.inventory.secrets, side) : p.inventory.secrets;
    const matched0: Finding[] = vulndb
      ? vulndb.match(p.inventory.packages, p.inventory.os, { ...(policy.severityPrefer ? { prefer: policy.severityPrefer } : {}), ...(opts.matchMemo ? { memo: opts.matchMemo } : {}) }).map(tagP).sort(compareRisk)
      : [];
    const matched = side ? withOrigin(matched0, side) : matched0;
    const filtered = opts.filterFindings ? opts.filterFindings(matched, p) : matched;
    // VEX: a not_affected/fixed statement takes the finding out of the policy's view; the report keeps it, marked.
    const findings = vex.length ? applyVex(filtered, vex, [p.manifestDigest, ...(scan.digest ? [scan.digest] : [])]) : filtered;
    const eol: EolFinding[] = vulndb
      ? eolFindings(eolSubjects(p.inventory.os, p.config?.config?.Env, p.inventory.packages), (product) => vulndb.eolCycles(product), (ctx.now ?? new Date()).getTime()).map(tagP)
      : [];
    // Nothing is skipped silently: every ecosystem that was not matched is named (the policy's onUncovered decides).
    const coverage = vulndb ? vulndb.coverage(p.inventory.packages, p.inventory.os).map(tagP) : [];
    const uncovered: Diagnostic[] = coverage.filter((c) => !c.covered).map((c) => tagP(c.incomplete
      ? { code: OS_RELEASE_UNKNOWN, ecosystem: c.ecosystem, packages: c.packages, incomplete: true, message: `${c.packages} ${c.ecosystem} package(s) not matched against advisories: ${c.reason ?? 'release unknown'}` }
      : {
        code: UNCOVERED_CODE, ecosystem: c.ecosystem, packages: c.packages,
        message: `${c.packages} ${c.ecosystem} package(s) not matched against advisories: ${c.reason ?? 'not covered'}`,
      }));
    if (vulndb) (report.coverage ??= []).push(...coverage);
    const refused: Diagnostic[] = (pb?.refused ?? []).map((r) => tagP({ code: r.code, message: r.message, incomplete: false }));
    const diagnostics: Diagnostic[] = [...p.inventory.diagnostics.map(tagP), ...uncovered, ...refused, ...imageLevel];
    const complete = !diagnostics.some((d) => d.incomplete);
    const input: PolicyInput = {
      registry: ctx.registry,
      repository: ctx.repository,
      tag: ctx.tag,
      digest: p.manifestDigest,
      findings: findings.filter((f) => !f.vex),
      eol,
      secrets: [...secrets, ...indexSecrets],
      config: p.inventory.config,
      diagnostics,
      packages,
      // A directory scan, or an image whose config could not be read, has no configuration to judge.
      imageConfig: p.configDigest && p.config && Object.keys(p.config).length ? p.config : undefined,
      imageSize: p.layers.reduce((n, l) => n + (l.size ?? 0), 0),
      baseLayers: side ? pb!.base.layers : p.baseLayers,
      baseVerified: (!!pb && VERIFIED_BASE_METHODS.has(pb.base.method)) || !!opts.trustAuthorBase,
      ...(pb && pb.base.method !== 'none' ? { base: pb.base } : {}),
      complete,
      ...(ctx.now ? { now: ctx.now } : {}),
    };
    const ownDiagnostics: Diagnostic[] = [...p.inventory.diagnostics, ...(vulndb ? [] : imageLevel.filter((d) => d.code === 'vulndb-missing'))];
    const ownComplete = !ownDiagnostics.some((d) => d.incomplete);
    const own = { input: { ...input, tag: undefined, secrets, diagnostics: ownDiagnostics, complete: ownComplete }, complete: ownComplete };
    inputs.push({ platform: p.platform, digest: p.manifestDigest, complete, input, own });
    if (!report.os && p.inventory.os) report.os = { id: p.inventory.os.id, versionId: p.inventory.os.versionId };
    report.packages.push(...packages.map(tagP));
    if (pb) (report.bases ??= []).push(multi ? { ...pb.base, platform: p.platform } : pb.base);
    report.findings.push(...findings);
    if (eol.length) (report.eol ??= []).push(...eol);
    if (p.baseLayers?.length) (report.baseLayers ??= []).push(...p.baseLayers.filter((l) => !report.baseLayers?.includes(l)));
    report.secrets.push(...secrets.map(tagP));
    report.config.push(...p.inventory.config.map(tagP));
    report.diagnostics.push(...p.inventory.diagnostics.map(tagP), ...uncovered, ...refused);
  }
  const mapping = selectMapping(policy, ctx);
  const ruleSets = candidateRuleSets(policy, ctx);
  if (!ruleSets.includes(mapping.ruleSet)) ruleSets.push(mapping.ruleSet);
  const raw: Record<string, RawEvaluation> = {};
  const children: ChildJudgement[] = inputs.map((p) => ({ digest: p.digest, platform: p.platform, complete: p.own.complete, raw: {}, evaluation: { decision: 'allow', reasons: [], policy: report.verdict.policy } }));
  for (const rs of ruleSets) {
    if (inputs.length === 0) {
      // Nothing scannable (e.g. an index of attestations only, or the root could not be read).
      const ev = evaluateRuleSet(policy, { ...ctx, findings: [], secrets: indexSecrets, config: [], diagnostics: report.diagnostics, packages: [], complete: false }, rs);
      raw[rs] = { decision: ev.decision, reasons: ev.reasons };
      continue;
    }
    const c = combine(policy, inputs, rs, multi);
    raw[rs] = c.raw;
    inputs.forEach((p, i) => {
      const ev = evaluateRuleSet(policy, p.own.input, rs);
      children[i]!.raw[rs] = { decision: ev.decision, reasons: ev.reasons };
    });
  }
  for (const c of children) {
    const r = c.raw[mapping.ruleSet]!;
    c.evaluation = { decision: applyMode(r.decision, mapping.mode), reasons: r.reasons, policy: report.verdict.policy };
  }
  if (multi) report.findings.sort(compareRisk);
  const chosen = raw[mapping.ruleSet]!;
  report.complete = !report.diagnostics.some((d) => d.incomplete);
  report.verdict = { decision: applyMode(chosen.decision, mapping.mode), reasons: chosen.reasons, policy: report.verdict.policy, complete: report.complete };
  return { report, evaluation: { decision: report.verdict.decision, reasons: chosen.reasons, policy: report.verdict.policy, mode: mapping.mode }, children, raw };
}

/** Re-exported for callers that build reports from a stored platform scan. */
export type { PlatformScan };
