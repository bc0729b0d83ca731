/**
 * Stored scan reports as a whole body plus, after a monitor pass patched the image, the fields that
 * pass judged again (`report_patches.patch`, a row of its own; `reports.patch` before migration 20):
 * writing a re-judged report rewrites only its findings and
 * verdict (about a third of a report; the package list, secrets and configuration findings, which a
 * database change cannot change, stay in the body as written). Shared by both stores.
 *
 * A report read is the body with the patch laid over it, exactly as the monitor's patch builds a report
 * from the stored one (src/monitor/monitor.ts `patch`: `{ ...stored, findings, vulndb, scannedAt,
 * verdict: { ...verdict, complete: stored.complete } }`): the same keys in the same order, so readers
 * get the same value and the same JSON text as from a report written whole. A patch replaces the
 * previous one (it sets the same fields), so reading never walks a chain: one body, one patch at most.
 * A report written whole clears the patch.
 */
import type { Digest, Evaluation, Finding, ScanReport } from '../core/index.js';
import { findingText } from './finding-text.js';

/** The fields of a report a patched re-judgement sets (`verdict.complete` is the stored report's `complete`). */
export interface ReportPatch {
  digest: Digest;
  findings: Finding[];
  /**
   * Always set, as are the other fields: a body lacking one of them gets it after its own keys (in this
   * order) from the first patch on, so a later patch, laid over the body alone, puts it in the same place.
   */
  vulndb: NonNullable<ScanReport['vulndb']>;
  scannedAt: string;
  verdict: Evaluation;
}

/** The `report_patches.patch` text of a patch. */
export function patchText(p: ReportPatch): string {
  // JSON.stringify({ findings, vulndb, scannedAt, verdict }), each finding's text made once (findingText)
  return `{"findings":[${p.findings.map(findingText).join(',')}],"vulndb":${JSON.stringify(p.vulndb)},"scannedAt":${JSON.stringify(p.scannedAt)},"verdict":${JSON.stringify(p.verdict)}}`;
}

/**
 * A stored report: `body` (JSON text) with `patch` (JSON text of {@link patchText}, or null) laid over
 * it. Keys the body holds keep their place; those it lacks follow in patch order, as an object spread
 * places them.
 */
export function reportOf(body: string, patch: string | null | undefined): ScanReport {
  const r = JSON.parse(body) as ScanReport;
  if (patch == null) return r;
  const p = JSON.parse(patch) as Omit<ReportPatch, 'digest'>;
  return Object.assign(r, { findings: p.findings, vulndb: p.vulndb, scannedAt: p.scannedAt, verdict: { ...p.verdict, complete: r.complete } });
}
