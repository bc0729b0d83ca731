/**
 * The words a pusher reads when the proxy refuses a manifest PUT. Clients print the first error's
 * `message` on one line after `denied: ` (containers/image `errcode.Error`, docker, crane), so
 * the message carries everything to act on in one line: the rules that blocked, the worst findings
 * with their fixed versions, and where the full report is. `detail` holds the same as data.
 */
import type { Finding } from '../core/finding.js';
import { severityRank } from '../core/finding.js';
import type { ScanReport, Verdict } from '../core/verdict.js';
import { blockingReasons, isBlocking } from '../core/verdict.js';
import { shortDigest } from '../core/digest.js';
import { rebuildHint } from '../core/base-image.js';
import type { RegistryErrorBody } from './errors.js';

/** How many findings the one-line message names. */
const MAX_FINDINGS = 3;
/** Longest reason sentence quoted when no finding explains the refusal. */
const MAX_REASON_CHARS = 180;

/** `repo:tag` or `repo@sha256:abcdef012345`. */
export function refName(repository: string, tag: string | undefined, digest: string): string {
  return tag ? `${repository}:${tag}` : `${repository}@${shortDigest(digest)}`;
}


/**
 * The findings that explain a refusal, worst first: those named by blocking reasons (all findings
 * when no reason names any), ordered by severity, then CVSS score, then "has a fix".
 */
export function worstFindings(v: Verdict, report: ScanReport | undefined, max = MAX_FINDINGS): Finding[] {
  const all = report?.findings ?? [];
  const named = new Set(blockingReasons(v).flatMap((r) => r.findings ?? []));
  const pool = named.size > 0 ? all.filter((f) => named.has(f.id) || f.aliases.some((a) => named.has(a))) : all;
  const seen = new Set<string>();
  return [...pool]
    .sort(
      (a, b) =>
        severityRank(b.severity) - severityRank(a.severity) ||
        (b.cvss?.score ?? 0) - (a.cvss?.score ?? 0) ||
        Number(b.fixedVersions.length > 0) - Number(a.fixedVersions.length > 0) ||
        a.id.localeCompare(b.id),
    )
    .filter((f) => {
      const k = `${f.id}|${f.package}|${f.installedVersion}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .slice(0, max);
}

/** `NSWG-NPM-458 adm-zip 0.4.7 (high, fixed in 0.4.9)` */
export function formatFinding(f: Finding): string {
  const fix = f.fixedVersions.length > 0 ? `fixed in ${f.fixedVersions[0]}` : 'no fix yet';
  const plat = f.platform ? ` on ${f.platform}` : '';
  return `${f.id} ${f.package} ${f.installedVersion} (${f.severity}, ${fix})${plat}`;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** What the refusal is about. */
export interface RefusalContext {
  repository: string;
  tag?: string;
  digest: string;
  verdict: Verdict;
  report?: ScanReport;
  /** URL of the full report (`…/api/v1/images/<digest>`). */
  reportUrl: string;
  /** Platform of the manifest (`linux/arm64/v8`), when known. */
  platform?: string;
}

/**
 * The registry error for a refused manifest: code `DENIED`, a one-line message such as
 * `pushgate refused team/app:1 for linux/amd64 (quarantine); rules fixable-high-vulns; worst: NSWG-NPM-458 adm-zip
 * 0.4.7 (high, fixed in 0.4.9); report: http://…`, and a `detail` object with the same data.
 */
export function refusalError(c: RefusalContext): RegistryErrorBody {
  const reasons = blockingReasons(c.verdict);
  const rules = [...new Set(reasons.map((r) => r.rule))];
  const worst = worstFindings(c.verdict, c.report);
  const total = c.report?.findings.length ?? 0;
  const plat = c.platform ? ` for ${c.platform}` : '';
  const parts = [`pushgate refused ${refName(c.repository, c.tag, c.digest)}${plat} (${c.verdict.decision})`];
  parts.push(`rules ${rules.join(', ') || 'none'}`);
  if (worst.length > 0) {
    const more = total > worst.length && worst.length === MAX_FINDINGS ? ` and ${total - worst.length} more` : '';
    parts.push(`worst: ${worst.map(formatFinding).join(', ')}${more}`);
  } else if (reasons[0]) {
    parts.push(oneLine(reasons[0].message, MAX_REASON_CHARS));
  }
  // A refusal caused by the base is fixed by a rebuild on a newer base: name the best one.
  const hint = rebuildHint(c.report?.bases);
  const byBase = worst.some((f) => f.origin === 'base') || reasons.some((r) => r.message.includes('rebuild on '));
  if (hint && byBase) parts.push(hint);
  parts.push(`report: ${c.reportUrl}`);
  return {
    code: 'DENIED',
    message: parts.join('; '),
    detail: {
      digest: c.digest,
      decision: c.verdict.decision,
      platform: c.platform,
      rules,
      reasons: reasons.map((r) => ({ rule: r.rule, action: r.action, message: r.message })),
      findings: worst.map((f) => ({ id: f.id, package: f.package, installedVersion: f.installedVersion, fixedVersions: f.fixedVersions, severity: f.severity })),
      ...(hint && byBase ? { recommendation: c.report?.bases?.find((b) => b.recommendations?.length)?.recommendations?.[0] } : {}),
      report: c.reportUrl,
    },
  };
}

/** One refused child of an index, as the index refusal names it. */
export interface RefusedChild {
  digest: string;
  platform: string;
  rules: string[];
}

/**
 * The registry error for an index whose children were refused: names each refused platform and
 * its rules, e.g. `pushgate refused team/app:1: platform linux/arm64/v8 (sha256:79e3b0355…) was
 * refused (rules secrets); push an index without it or fix that image; report: …`.
 */
export function refusedIndexError(repository: string, tag: string | undefined, digest: string, children: RefusedChild[], reportUrl: string): RegistryErrorBody {
  const list = children.map((c) => `${c.platform} (${shortDigest(c.digest)}, rules ${c.rules.join(', ') || 'unknown'})`);
  const word = children.length === 1 ? 'platform' : 'platforms';
  return {
    code: 'DENIED',
    message: `pushgate refused index ${refName(repository, tag, digest)}: ${word} ${list.join(', ')} refused; fix or drop ${children.length === 1 ? 'that image' : 'those images'}; report: ${reportUrl}`,
    detail: { digest, refusedChildren: children, report: reportUrl },
  };
}

/** Warning header value (RFC 9111 §5.5 `299`) for a `warn` verdict, ASCII, one line. */
export function warningHeader(v: Verdict): string | undefined {
  const reasons = v.reasons.filter((r) => r.action === 'warn' || isBlocking(r.action));
  if (reasons.length === 0) return undefined;
  const text = oneLine(`pushgate warns: ${reasons.map((r) => `${r.rule}: ${r.message}`).join('; ')}`, 400)
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, "'");
  return `299 pushgate "${text}"`;
}
