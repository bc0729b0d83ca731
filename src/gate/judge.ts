/**
 * From a scan to a judged report: match each platform's inventory against the vulnerability
 * database, evaluate the policy per platform, and combine (an index's decision is the worst of
 * its children's). Shared by `pushgate scan` and the gate pipeline.
 */
import {
  worstDecision,
  type Decision,
  type Diagnostic,
  type Digest,
  type Evaluation,
  type Finding,
  type PolicyMode,
  type Reason,
  type ScanReport,
} from '../core/index.js';
import { evaluate, type CompiledPolicy } from '../policy/index.js';
import type { ImageScan, PlatformScan } from '../scan/engine.js';
import type { VulnDb } from '../vulndb/index.js';

/** The judgement of one platform's image manifest. */
export interface ChildJudgement {
  digest: Digest;
  platform: string;
  evaluation: Evaluation;
  complete: boolean;
}

/** A judged scan: the report (with its verdict) and one judgement per platform manifest. */
export interface Judgement {
  report: ScanReport;
  evaluation: Evaluation & { mode: PolicyMode };
  children: ChildJudgement[];
}

/** Where the image lives, for policy mappings; all optional for local scans. */
export interface JudgeContext {
  registry?: string;
  repository?: string;
  tag?: string;
}

/**
 * Judges a scan.
 * @param vulndb the opened database, or undefined when there is none (the report is then
 *   incomplete with a `vulndb-missing` diagnostic, and the policy's onIncomplete decides).
 */
export function judgeScan(scan: ImageScan, vulndb: VulnDb | undefined, policy: CompiledPolicy, ctx: JudgeContext = {}): Judgement {
  const multi = scan.platforms.length > 1;
  const report: ScanReport = {
    target: scan.target,
    digest: scan.digest,
    mediaType: scan.mediaType,
    platforms: scan.platforms.map((p) => p.platform),
    packages: [],
    findings: [],
    secrets: [],
    config: [],
    diagnostics: [...scan.diagnostics],
    complete: true,
    verdict: { decision: 'allow', reasons: [], policy: { name: policy.name, revision: policy.revision }, complete: true },
    vulndb: { builtAt: vulndb?.builtAt ?? null },
    scannedAt: new Date().toISOString(),
  };
  // Image-level problems (unreadable child manifest, no vulnerability database) apply to every platform.
  const imageLevel: Diagnostic[] = scan.diagnostics.filter((d) => d.incomplete);
  // Secrets in the index itself are in every platform's push: each platform is judged with them.
  const indexSecrets = scan.secrets ?? [];
  report.secrets.push(...indexSecrets);
  if (!vulndb) {
    const d: Diagnostic = { code: 'vulndb-missing', message: 'no vulnerability database: run `pushgate db update`; packages were not matched against advisories', incomplete: true };
    report.diagnostics.push(d);
    imageLevel.push(d);
  }
  const children: ChildJudgement[] = [];
  let decision: Decision = 'allow';
  let mode: PolicyMode = 'enforce';
  const reasons: Reason[] = [];
  const seen = new Map<string, { reason: Reason; platforms: string[] }>();
  for (const p of scan.platforms) {
    const tagP = <T extends object>(x: T): T => (multi ? { ...x, platform: p.platform } : x);
    const findings: Finding[] = vulndb ? vulndb.match(p.inventory.packages, p.inventory.os).map(tagP) : [];
    const diagnostics: Diagnostic[] = [...p.inventory.diagnostics.map(tagP), ...imageLevel];
    const complete = !diagnostics.some((d) => d.incomplete);
    const ev = evaluate(policy, {
      registry: ctx.registry,
      repository: ctx.repository,
      tag: ctx.tag,
      digest: p.manifestDigest,
      findings,
      secrets: [...p.inventory.secrets, ...indexSecrets],
      config: p.inventory.config,
      diagnostics,
      packages: p.inventory.packages,
      // A directory scan, or an image whose config could not be read, has no configuration to judge.
      imageConfig: p.configDigest && p.config && Object.keys(p.config).length ? p.config : undefined,
      imageSize: p.layers.reduce((n, l) => n + (l.size ?? 0), 0),
      baseLayers: p.baseLayers,
      complete,
    });
    children.push({ digest: p.manifestDigest, platform: p.platform, evaluation: ev, complete });
    decision = worstDecision(decision, ev.decision);
    mode = ev.mode;
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
    if (!report.os && p.inventory.os) report.os = { id: p.inventory.os.id, versionId: p.inventory.os.versionId };
    report.packages.push(...p.inventory.packages.map(tagP));
    report.findings.push(...findings);
    report.secrets.push(...p.inventory.secrets.map(tagP));
    report.config.push(...p.inventory.config.map(tagP));
    report.diagnostics.push(...p.inventory.diagnostics.map(tagP));
  }
  if (scan.platforms.length === 0) {
    // Nothing scannable (e.g. an index of attestations only, or the root could not be read).
    const ev = evaluate(policy, { ...ctx, findings: [], secrets: indexSecrets, config: [], diagnostics: report.diagnostics, packages: [], complete: false });
    decision = ev.decision;
    mode = ev.mode;
    reasons.push(...ev.reasons);
  }
  if (multi) for (const { reason, platforms } of seen.values()) reason.message = `${reason.message} (${platforms.join(', ')})`;
  report.complete = !report.diagnostics.some((d) => d.incomplete);
  report.verdict = { decision, reasons, policy: { name: policy.name, revision: policy.revision }, complete: report.complete };
  return { report, evaluation: { decision, reasons, policy: report.verdict.policy, mode }, children };
}

/** Re-exported for callers that build reports from a stored platform scan. */
export type { PlatformScan };
